using System.Text.Json.Nodes;
using Retrieval.Bench.Datasets.Sources;

namespace Retrieval.Bench.Datasets.Recipes;

/// <summary>
/// passages and lexical-passages: WordNet glosses, GCIDE paragraphs and Debian package descriptions fetched from
/// the Debian archive into scratch space, turned into passages.tsv.gz and queries.tsv.gz by
/// <see cref="PassageCorpusBuilder"/>, with a manifest.
/// </summary>
internal static class PassagesRecipe
{
    public const string WordNetPackage = "wordnet-base";
    public const string GcidePackage = "dict-gcide";

    public static void Run(RecipeContext context) => Build(context, context.Staging, context.Entry);

    /// <summary>Builds the texts into <paramref name="folder"/> with the manifest of <paramref name="entry"/>.</summary>
    public static PassageCorpus Build(RecipeContext context, string folder, CatalogEntry entry)
    {
        var ct = context.Cancellation;
        var archive = new DebianArchive(Path.Combine(context.Scratch(), "debian"));

        context.Report("fetch Debian package lists (apt-get update, private lists folder)");
        archive.Update(ct);
        context.Report($"download and unpack {WordNetPackage}");
        var (wordnetRoot, wordnetVersion) = archive.DownloadAndExtract(WordNetPackage, ct);
        context.Report($"download and unpack {GcidePackage}");
        var (gcideRoot, gcideVersion) = archive.DownloadAndExtract(GcidePackage, ct);
        context.Report("decompress Translation-en descriptions");
        var translations = archive.TranslationFiles(ct);

        var wordnet = Collect(context, "read WordNet glosses", WordNetGlosses.Read(Path.Combine(wordnetRoot, "usr", "share", "wordnet")));
        var gcide = Collect(context, "read GCIDE paragraphs", GcideParagraphs.Read(Path.Combine(gcideRoot, "usr", "share", "dictd")));
        var debian = new List<Passage>();
        var shortDescriptions = new List<Passage>();
        foreach (var description in DebianDescriptions.Read(translations))
        {
            debian.Add(new Passage("deb:" + description.Md5, description.Long));
            shortDescriptions.Add(new Passage("debq:" + description.Md5, description.Short));
            if ((debian.Count & 0x3FFF) == 0) context.Report("read Debian descriptions", debian.Count, 0, "descriptions");
        }
        context.Report("read Debian descriptions", debian.Count, debian.Count, "descriptions");

        context.Report("deduplicate, cap and shuffle passages");
        var corpus = PassageCorpusBuilder.Build([wordnet, gcide, debian], shortDescriptions, cancellationToken: ct);
        Write(context, folder, entry, corpus,
            $"Debian packages {WordNetPackage} {wordnetVersion} (WordNet 3.0), {GcidePackage} {gcideVersion}, " +
            $"package descriptions from {DebianArchive.Describe(translations)}; deduplicated, capped at {PassageText.MaxCharacters} characters, " +
            $"shuffled (seed {PassageCorpusBuilder.Seed})",
            wordnet.Count, gcide.Count, debian.Count);
        context.Notes.Add($"{corpus.Passages.Count:N0} passages ({wordnet.Count:N0} WordNet synsets, {gcide.Count:N0} GCIDE paragraphs, " +
            $"{debian.Count:N0} Debian descriptions before filtering), {corpus.Queries.Count:N0} queries");
        context.Notes.Add("not byte-identical to ../shared/datasets/passages: the Debian descriptions follow this machine's apt snapshot and the shuffle differs; WordNet and GCIDE texts and ids follow the same rules");
        return corpus;
    }

    private static List<Passage> Collect(RecipeContext context, string stage, IEnumerable<Passage> source)
    {
        var list = new List<Passage>();
        foreach (var passage in source)
        {
            list.Add(passage);
            if ((list.Count & 0x3FFF) == 0)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                context.Report(stage, list.Count, 0, "passages");
            }
        }
        context.Report(stage, list.Count, list.Count, "passages");
        return list;
    }

    internal static void Write(RecipeContext context, string folder, CatalogEntry entry, PassageCorpus corpus, string source,
        int wordnetCount, int gcideCount, int debianCount)
    {
        Directory.CreateDirectory(folder);
        TsvGzWriter.Write(Path.Combine(folder, "passages.tsv.gz"), corpus.Passages, context.Progress, "write passages.tsv.gz", context.Cancellation);
        TsvGzWriter.Write(Path.Combine(folder, "queries.tsv.gz"), corpus.Queries, context.Progress, "write queries.tsv.gz", context.Cancellation);

        var manifest = ManifestWriter.FromCatalog(entry);
        manifest["base"]!["count"] = corpus.Passages.Count;
        manifest["queries"]!["count"] = corpus.Queries.Count;
        manifest["source"] = source;
        manifest["prepared"] = new JsonObject
        {
            ["by"] = "retrieval datasets prepare " + entry.Name,
            ["at"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["inputs"] = new JsonObject
            {
                ["wordnet_synsets"] = wordnetCount,
                ["gcide_paragraphs"] = gcideCount,
                ["debian_descriptions"] = debianCount,
            },
        };
        ManifestWriter.Write(folder, manifest);
    }
}

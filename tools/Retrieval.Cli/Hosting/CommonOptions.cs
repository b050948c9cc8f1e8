using System.CommandLine;

namespace Retrieval.Cli.Hosting;

/// <summary>
/// Options several commands share, spelled and explained the same way everywhere. Each call makes a new
/// instance because an option belongs to the command it is added to.
/// </summary>
public static class CommonOptions
{
    public static Option<string?> Dataset(string extra = "") => new("--dataset", "-d")
    {
        Description = "A dataset name (see 'retrieval datasets list') or the path of a directory holding a " +
                      "manifest.json laid out like ../shared/datasets." + extra,
        HelpName = "NAME|DIR",
    };

    public static Option<string?> Base() => new("--base")
    {
        Description = "Base vectors file (.fvecs .bvecs .fbin .u8bin .i8bin .npy; sparse: .csr .jsonl).",
        HelpName = "FILE",
    };

    public static Option<string?> Queries() => new("--queries")
    {
        Description = "Query vectors file, same formats as --base (sparse also: Anserini pre-tokenized .tsv).",
        HelpName = "FILE",
    };

    public static Option<int> K(int defaultValue) => new("--k")
    {
        Description = "Number of neighbours per query (>= 1).",
        HelpName = "K",
        DefaultValueFactory = _ => defaultValue,
    };

    public static Option<string?> Metric() => new Option<string?>("--metric")
    {
        Description = "Similarity: cosine, ip (inner product) or l2 (squared Euclidean). " +
                      "Default: the dataset manifest's metric (l2 for plain files without one).",
    }.AcceptOnlyFromAmong("cosine", "ip", "l2");

    public static Option<int> Threads(int defaultValue, string what) => new("--threads", "-t")
    {
        Description = ($"Worker threads; 0 = all cores. {what}").TrimEnd(),
        HelpName = "N",
        DefaultValueFactory = _ => defaultValue,
    };

    public static Option<int?> MaxQueries() => new("--max-queries")
    {
        Description = "Use only the first N queries (quick runs over big query sets).",
        HelpName = "N",
    };
}

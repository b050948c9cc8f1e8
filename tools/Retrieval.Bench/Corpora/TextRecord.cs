namespace Retrieval.Bench.Corpora;

/// <summary>One identified text: a passage, a query or a document body, as read from a corpus file.</summary>
public readonly record struct TextRecord(string Id, string Text);

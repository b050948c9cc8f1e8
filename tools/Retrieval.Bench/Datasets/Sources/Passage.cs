namespace Retrieval.Bench.Datasets.Sources;

/// <summary>One text with its stable id ("wn:n13819074", "gcide:17692", "deb:&lt;md5&gt;", "debq:&lt;md5&gt;").</summary>
public readonly record struct Passage(string Id, string Text);

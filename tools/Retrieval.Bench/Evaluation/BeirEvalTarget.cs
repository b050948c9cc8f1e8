using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Service.Client;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Bench.Evaluation;

/// <summary>One document as the evaluation writes it: BEIR id, MiniLM vector, and text for the engine's sparse encoder.</summary>
public readonly record struct BeirDocument(string Id, float[] Vector, string Text);

/// <summary>How one evaluated search runs: mode plus, for hybrid, the fusion settings.</summary>
public sealed record EvalSearch(string Name, SearchMode Mode, FusionMethod Fusion = FusionMethod.ReciprocalRank,
    float DenseWeight = 1, float SparseWeight = 1, int RrfConstant = SearchRequest.DefaultRrfConstant, int Candidates = 0);

/// <summary>
/// Where <see cref="BeirEngineEvaluation"/> puts the corpus and sends text queries: an embedded engine or a running
/// server. The collection is the text-encoder kind: 384-d cosine dense field, bert-base-uncased sparse field,
/// string keys.
/// </summary>
public interface IBeirEvalTarget : IAsyncDisposable
{
    /// <summary>"embedded DIR" or "server URL", for reports.</summary>
    string Description { get; }
    /// <summary>Most documents / queries per call.</summary>
    int BatchSize { get; }
    Task CreateCollectionAsync(string name, CancellationToken cancellationToken);
    Task UpsertAsync(string name, IReadOnlyList<BeirDocument> documents, CancellationToken cancellationToken);
    /// <summary>For each text, the ids of the top <paramref name="k"/> documents, best first.</summary>
    Task<string[][]> SearchAsync(string name, IReadOnlyList<string> texts, EvalSearch search, int k, CancellationToken cancellationToken);
    Task DropCollectionAsync(string name, CancellationToken cancellationToken);
}

/// <summary>The schema every evaluation collection gets.</summary>
internal static class EvalSchema
{
    public static CollectionSchema For(string name) => new(name, KeyKind.String,
        new DenseFieldSchema(Query.Encoders.MiniLmEncoder.Dimension, Metric.Cosine),
        new SparseFieldSchema(SparseFieldSchema.BertVocabularySize), PayloadKind.Json, TextEncoders: true);
}

/// <summary>An engine opened in-process (on a given directory, or a temporary one deleted afterwards).</summary>
public sealed class EmbeddedEvalTarget : IBeirEvalTarget
{
    private readonly RetrievalEngine _engine;
    private readonly string? _deleteOnDispose;

    public EmbeddedEvalTarget(string? dataDirectory, EngineOptions? options = null, int batchSize = 100_000)
    {
        _deleteOnDispose = dataDirectory is null ? Path.Combine(Path.GetTempPath(), "retrieval-eval-" + Guid.NewGuid().ToString("N")) : null;
        _engine = RetrievalEngine.Open(dataDirectory ?? _deleteOnDispose!, options ?? EngineOptions.Default with { CheckpointInterval = TimeSpan.Zero });
        BatchSize = batchSize;
    }

    public string Description => $"embedded {_engine.DirectoryPath}";
    public int BatchSize { get; }

    public Task CreateCollectionAsync(string name, CancellationToken cancellationToken) =>
        _engine.CreateCollectionAsync(EvalSchema.For(name), cancellationToken);

    public Task UpsertAsync(string name, IReadOnlyList<BeirDocument> documents, CancellationToken cancellationToken)
    {
        var records = new EngineRecord[documents.Count];
        for (int i = 0; i < records.Length; i++)
            records[i] = new EngineRecord(RecordKey.Of(documents[i].Id), documents[i].Vector, Text: documents[i].Text);
        return _engine.UpsertAsync(name, records, cancellationToken);
    }

    public Task<string[][]> SearchAsync(string name, IReadOnlyList<string> texts, EvalSearch search, int k, CancellationToken cancellationToken)
    {
        var requests = new SearchRequest[texts.Count];
        for (int i = 0; i < requests.Length; i++)
        {
            requests[i] = new SearchRequest
            {
                Text = texts[i],
                Mode = search.Mode,
                K = k,
                Fusion = search.Fusion,
                DenseWeight = search.DenseWeight,
                SparseWeight = search.SparseWeight,
                RrfConstant = search.RrfConstant,
                Candidates = search.Candidates,
            };
        }
        var results = _engine.SearchBatch(name, requests);
        var ids = new string[results.Count][];
        for (int q = 0; q < ids.Length; q++)
        {
            var hits = results[q];
            ids[q] = new string[hits.Count];
            for (int i = 0; i < hits.Count; i++) ids[q][i] = hits[i].Key.String;
        }
        return Task.FromResult(ids);
    }

    public Task DropCollectionAsync(string name, CancellationToken cancellationToken) => _engine.DropCollectionAsync(name, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _engine.DisposeAsync().ConfigureAwait(false);
        if (_deleteOnDispose is not null)
        {
            try { Directory.Delete(_deleteOnDispose, recursive: true); }
            catch (IOException) { } // a temp folder left behind is harmless
        }
    }
}

/// <summary>A running `retrieval serve`, driven through retrieval.v1 with text queries.</summary>
public sealed class ServerEvalTarget(string serverUrl, string? apiKey = null, int batchSize = 256) : IBeirEvalTarget
{
    private readonly RetrievalClient _client = new(serverUrl, apiKey);

    public string Description => $"server {serverUrl}";
    public int BatchSize { get; } = batchSize;

    public async Task CreateCollectionAsync(string name, CancellationToken cancellationToken)
    {
        await _client.CreateAsync(new V1.CollectionSchema
        {
            Name = name,
            KeyKind = V1.KeyKind.String,
            Dense = new V1.DenseField { Dimension = Query.Encoders.MiniLmEncoder.Dimension, Metric = V1.Metric.Cosine },
            Sparse = new V1.SparseField { VocabularySize = SparseFieldSchema.BertVocabularySize },
            TextEncoders = true,
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task UpsertAsync(string name, IReadOnlyList<BeirDocument> documents, CancellationToken cancellationToken)
    {
        var request = new V1.UpsertRequest { Collection = name };
        foreach (var d in documents)
        {
            var record = new V1.Record { Id = new V1.RecordId { Text = d.Id }, Text = d.Text };
            record.Vector.Add(d.Vector);
            request.Records.Add(record);
        }
        await _client.UpsertAsync(request, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string[][]> SearchAsync(string name, IReadOnlyList<string> texts, EvalSearch search, int k, CancellationToken cancellationToken)
    {
        var request = new V1.SearchBatchRequest { Collection = name };
        var mode = search.Mode switch
        {
            SearchMode.Dense => V1.SearchMode.Dense,
            SearchMode.Sparse => V1.SearchMode.Sparse,
            SearchMode.Hybrid => V1.SearchMode.Hybrid,
            _ => V1.SearchMode.Auto,
        };
        foreach (var text in texts)
        {
            request.Queries.Add(new V1.Query
            {
                Text = text,
                Mode = mode,
                K = (uint)k,
                Fusion = search.Fusion == FusionMethod.WeightedScore ? V1.Fusion.Weighted : V1.Fusion.Rrf,
                DenseWeight = search.DenseWeight,
                SparseWeight = search.SparseWeight,
                RrfK = (uint)search.RrfConstant,
                Candidates = (uint)search.Candidates,
            });
        }
        var response = await _client.Search.SearchBatchAsync(request, _client.Headers, cancellationToken: cancellationToken).ConfigureAwait(false);
        var ids = new string[response.Results.Count][];
        for (int q = 0; q < ids.Length; q++)
        {
            var hits = response.Results[q].Hits;
            ids[q] = new string[hits.Count];
            for (int i = 0; i < hits.Count; i++) ids[q][i] = hits[i].Id.Text;
        }
        return ids;
    }

    public Task DropCollectionAsync(string name, CancellationToken cancellationToken) => _client.DropAsync(name, cancellationToken);

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

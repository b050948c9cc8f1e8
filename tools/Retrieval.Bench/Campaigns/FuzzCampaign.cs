using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Retrieval.Index.Errors;
using Retrieval.Service.Client;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Bench.Campaigns;

/// <summary>Settings of a <see cref="FuzzCampaign"/>: a seeded, bounded run against a loopback server.</summary>
public sealed record FuzzOptions
{
    public required Uri Server { get; init; }
    public string? ApiKey { get; init; }
    public int Iterations { get; init; } = 2000;
    public int Seed { get; init; } = 1;
    /// <summary>The server's max_dimension (oversized vectors are sent just above it).</summary>
    public int MaxDimension { get; init; } = 4096;
    /// <summary>The server's max_batch (oversized batches are sent just above it).</summary>
    public int MaxBatch { get; init; } = 1000;
    /// <summary>Whether some requests carry text for a text-encoder collection (loads MiniLM in the server; slower).</summary>
    public bool WithText { get; init; }
    /// <summary>Per-call deadline; a call that runs past it counts as a failure (a hung server).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public void Validate()
    {
        if (!Server.IsLoopback) Guard.ThrowInvalid($"the fuzz campaign only targets loopback servers; {Server} is not loopback");
        if (Iterations < 1) Guard.ThrowInvalid($"iterations must be >= 1, got {Iterations}");
        if (MaxDimension < 1 || MaxBatch < 1) Guard.ThrowInvalid("max dimension and max batch must be >= 1");
    }
}

/// <summary>
/// What a campaign saw: calls made, replies by status, and the failures — a reply that is not a proper status for
/// what was sent (INTERNAL/UNKNOWN/DATA_LOSS for a request that decodes, any transport error, a deadline hit), or a
/// server that is unhealthy or unable to serve a plain create/upsert/search/drop afterwards.
/// </summary>
public sealed record FuzzResult(long Calls, IReadOnlyDictionary<StatusCode, long> Statuses, long Failures, IReadOnlyList<string> FailureSamples,
    bool HealthyAfter, bool WorksAfter, double Seconds, IReadOnlyList<string> UndecodableReplies)
{
    public bool Passed => Failures == 0 && HealthyAfter && WorksAfter;
}

// Over 400 lines on purpose: the raw-method table, the mutators and the run loop share one seeded RNG and one
// failure log, so a failing seed replays exactly; the pieces are private nested types of this one campaign.
/// <summary>
/// A seeded fuzz campaign against a running server. Each iteration picks one of: random bytes as the body of a
/// random unary method (through a raw call with a byte[] marshaller, so the server's own deserializer meets them);
/// a valid request with bytes flipped, truncated or appended; a structured search with random field values
/// (wrong/oversized dimensions, NaN and infinities, unknown collections, enum values out of range, k 0 or huge,
/// unsorted/duplicate/out-of-range sparse terms); a structured upsert (empty, mistyped or oversized ids, invalid
/// JSON payloads, oversized batches); random create/drop with odd schemas; get/delete with odd ids; a streaming
/// upsert that sends garbage mid-stream. The health check runs every 100 iterations and at the end, followed by a
/// create/upsert/search/drop round trip that must return the right record.
/// </summary>
public static class FuzzCampaign
{
    private static readonly StatusCode[] s_domainStatuses =
    [
        StatusCode.OK, StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.AlreadyExists, StatusCode.ResourceExhausted,
        StatusCode.FailedPrecondition, StatusCode.OutOfRange,
    ];

    private sealed record RawMethod(Method<byte[], byte[]> Method, MessageParser Parser);

    private static RawMethod Raw(string service, string name, MessageParser parser) =>
        new(new Method<byte[], byte[]>(MethodType.Unary, service, name, Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b)), parser);

    private static readonly RawMethod[] s_unary =
    [
        Raw("retrieval.v1.Collections", "CreateCollection", V1.CreateCollectionRequest.Parser),
        Raw("retrieval.v1.Collections", "DropCollection", V1.DropCollectionRequest.Parser),
        Raw("retrieval.v1.Collections", "ListCollections", V1.ListCollectionsRequest.Parser),
        Raw("retrieval.v1.Collections", "DescribeCollection", V1.DescribeCollectionRequest.Parser),
        Raw("retrieval.v1.Collections", "CompactCollection", V1.CompactCollectionRequest.Parser),
        Raw("retrieval.v1.Points", "Upsert", V1.UpsertRequest.Parser),
        Raw("retrieval.v1.Points", "Delete", V1.DeleteRequest.Parser),
        Raw("retrieval.v1.Points", "Get", V1.GetRequest.Parser),
        Raw("retrieval.v1.Search", "Search", V1.SearchRequest.Parser),
        Raw("retrieval.v1.Search", "SearchBatch", V1.SearchBatchRequest.Parser),
        Raw("grpc.health.v1.Health", "Check", HealthCheckRequest.Parser),
        // The KV-cache service gets garbage and mutated-garbage bodies (indices above 10; the valid-request
        // generator below picks by index from the first eleven).
        Raw("retrieval.v1.KvCache", "CreateSequence", V1.CreateSequenceRequest.Parser),
        Raw("retrieval.v1.KvCache", "PrefillKv", V1.PrefillKvRequest.Parser),
        Raw("retrieval.v1.KvCache", "BuildHeads", V1.BuildHeadsRequest.Parser),
        Raw("retrieval.v1.KvCache", "Search", V1.KvSearchRequest.Parser),
        Raw("retrieval.v1.KvCache", "Attend", V1.KvSearchRequest.Parser),
        Raw("retrieval.v1.KvCache", "Append", V1.KvAppendRequest.Parser),
        Raw("retrieval.v1.KvCache", "DescribeSequence", V1.SequenceRequest.Parser),
        Raw("retrieval.v1.KvCache", "ReleaseSequence", V1.SequenceRequest.Parser),
    ];

    private static readonly Method<byte[], byte[]> s_rawStream = new(MethodType.ClientStreaming, "retrieval.v1.Points", "UpsertStream",
        Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    private const int Dims = 8;

    public static async Task<FuzzResult> RunAsync(FuzzOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var run = new Run(options);
        using var channel = GrpcChannel.ForAddress(options.Server, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024, MaxSendMessageSize = 64 * 1024 * 1024 });
        var invoker = channel.CreateCallInvoker();
        var random = new Random(options.Seed);
        var clock = Stopwatch.StartNew();
        string prefix = "fz" + options.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-";
        // Target collections: integer keys with an 8-d dense field, string keys with dense + sparse and JSON payloads.
        string ints = prefix + "ints", strings = prefix + "strings", texts = prefix + "texts";
        await run.Call("setup", invoker, s_unary[0], Encode(new V1.CreateCollectionRequest { Schema = Schema(ints, V1.KeyKind.Integer, Dims, sparse: false) }), decodes: true).ConfigureAwait(false);
        await run.Call("setup", invoker, s_unary[0], Encode(new V1.CreateCollectionRequest { Schema = Schema(strings, V1.KeyKind.String, Dims, sparse: true) }), decodes: true).ConfigureAwait(false);
        if (options.WithText)
        {
            var schema = Schema(texts, V1.KeyKind.String, 384, sparse: true);
            schema.TextEncoders = true;
            await run.Call("setup", invoker, s_unary[0], Encode(new V1.CreateCollectionRequest { Schema = schema }), decodes: true).ConfigureAwait(false);
        }
        string[] names = options.WithText ? [ints, strings, texts, prefix + "missing", "", "../etc", new string('x', 300)] : [ints, strings, prefix + "missing", "", "../etc", new string('x', 300)];

        for (int i = 0; i < options.Iterations && !cancellationToken.IsCancellationRequested; i++)
        {
            int kind = random.Next(100);
            if (kind < 20)
            {
                var method = s_unary[random.Next(s_unary.Length)];
                var body = new byte[random.Next(0, 4) == 0 ? random.Next(0, 8) : random.Next(1, 2048)];
                random.NextBytes(body);
                await run.Call("garbage " + method.Method.Name, invoker, method, body, Decodes(method.Parser, body)).ConfigureAwait(false);
            }
            else if (kind < 35)
            {
                var (method, message) = RandomValidRequest(random, names, options);
                var body = Mutate(random, message.ToByteArray());
                await run.Call("mutated " + method.Method.Name, invoker, method, body, Decodes(method.Parser, body)).ConfigureAwait(false);
            }
            else if (kind < 90)
            {
                var (method, message) = RandomValidRequest(random, names, options);
                await run.Call(method.Method.Name, invoker, method, message.ToByteArray(), decodes: true).ConfigureAwait(false);
            }
            else
            {
                await run.Stream(invoker, random, names, options).ConfigureAwait(false);
            }
            if ((i + 1) % 100 == 0)
            {
                await run.Call("health", invoker, s_unary[^1], Encode(new HealthCheckRequest()), decodes: true).ConfigureAwait(false);
                progress?.Report($"{i + 1}/{options.Iterations} iterations, {run.Calls} calls, {run.Failures} failures");
            }
        }

        bool healthy = false, works = false;
        try
        {
            var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), run.Headers, DateTime.UtcNow + options.CallTimeout).ConfigureAwait(false);
            healthy = health.Status == HealthCheckResponse.Types.ServingStatus.Serving;
            works = await RoundTrip(options, prefix + "check").ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            run.Fail($"after the campaign: {e.StatusCode} {e.Status.Detail}");
        }
        return new FuzzResult(run.Calls, run.Statuses, run.Failures, run.Samples, healthy, works, clock.Elapsed.TotalSeconds, run.Notes);
    }

    /// <summary>Create, upsert 3 records, search for one, drop: what a healthy server must still do.</summary>
    private static async Task<bool> RoundTrip(FuzzOptions options, string name)
    {
        using var client = new RetrievalClient(options.Server.ToString(), options.ApiKey);
        try { await client.DropAsync(name).ConfigureAwait(false); }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound) { }
        await client.CreateAsync(Schema(name, V1.KeyKind.Integer, 3, sparse: false)).ConfigureAwait(false);
        var upsert = new V1.UpsertRequest { Collection = name };
        for (int i = 0; i < 3; i++)
        {
            var r = new V1.Record { Id = new V1.RecordId { Number = i } };
            r.Vector.Add([i == 0 ? 1 : 0, i == 1 ? 1 : 0, i == 2 ? 1 : 0]);
            upsert.Records.Add(r);
        }
        await client.UpsertAsync(upsert).ConfigureAwait(false);
        var query = new V1.Query { K = 1, Mode = V1.SearchMode.Dense };
        query.Vector.Add([0.1f, 0.2f, 0.9f]);
        var hits = await client.SearchAsync(name, query).ConfigureAwait(false);
        await client.DropAsync(name).ConfigureAwait(false);
        return hits.Hits.Count == 1 && hits.Hits[0].Id.Number == 2;
    }

    private sealed class Run(FuzzOptions options)
    {
        private readonly Dictionary<StatusCode, long> _statuses = [];
        private readonly List<string> _samples = [];
        private readonly List<string> _notes = [];

        /// <summary>Distinct non-domain replies to undecodable bodies (kind, status, detail).</summary>
        public IReadOnlyList<string> Notes => _notes;

        public long Calls { get; private set; }
        public long Failures { get; private set; }
        public IReadOnlyDictionary<StatusCode, long> Statuses => _statuses;
        public IReadOnlyList<string> Samples => _samples;
        public Metadata? Headers { get; } = string.IsNullOrEmpty(options.ApiKey) ? null : new Metadata { { ProtocolHeaders.ApiKey, options.ApiKey } };

        public void Fail(string what)
        {
            Failures++;
            if (_samples.Count < 20) _samples.Add(what);
        }

        private void Count(StatusCode status) => _statuses[status] = _statuses.GetValueOrDefault(status) + 1;

        /// <summary>
        /// One raw unary call. A body that decodes must get a domain status (OK, INVALID_ARGUMENT, NOT_FOUND, ...); one
        /// that does not may also get INTERNAL/UNKNOWN (what gRPC servers answer to an undecodable message), never a
        /// dropped connection or a hang.
        /// </summary>
        public async Task Call(string what, CallInvoker invoker, RawMethod method, byte[] body, bool decodes)
        {
            Calls++;
            StatusCode status;
            string detail = "";
            try
            {
                await invoker.AsyncUnaryCall(method.Method, null, new CallOptions(Headers, DateTime.UtcNow + options.CallTimeout), body).ConfigureAwait(false);
                status = StatusCode.OK;
            }
            catch (RpcException e)
            {
                status = e.StatusCode;
                detail = e.Status.Detail;
            }
            Check(what, status, detail, decodes);
        }

        public async Task Stream(CallInvoker invoker, Random random, string[] names, FuzzOptions fuzz)
        {
            Calls++;
            StatusCode status;
            string detail = "";
            bool decodes = true;
            try
            {
                using var call = invoker.AsyncClientStreamingCall(s_rawStream, null, new CallOptions(Headers, DateTime.UtcNow + options.CallTimeout));
                int messages = random.Next(1, 6);
                for (int m = 0; m < messages; m++)
                {
                    byte[] body;
                    if (random.Next(3) == 0)
                    {
                        body = new byte[random.Next(1, 512)];
                        random.NextBytes(body);
                        decodes &= Decodes(V1.UpsertRequest.Parser, body);
                    }
                    else body = RandomUpsert(random, names, fuzz).ToByteArray();
                    try
                    {
                        await call.RequestStream.WriteAsync(body).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is RpcException or InvalidOperationException)
                    {
                        // The server ended the call (e.g. NOT_FOUND on the first message) while we were still
                        // writing; its status is on the response, read below.
                        break;
                    }
                }
                try { await call.RequestStream.CompleteAsync().ConfigureAwait(false); }
                catch (Exception e) when (e is RpcException or InvalidOperationException) { }
                await call.ResponseAsync.ConfigureAwait(false);
                status = StatusCode.OK;
            }
            catch (RpcException e)
            {
                status = e.StatusCode;
                detail = e.Status.Detail;
            }
            // Garbage inside a stream reaches the handler (MoveNext decodes it), which answers INVALID_ARGUMENT: only domain statuses pass.
            Check("UpsertStream", status, detail, decodes: true);
        }

        private void Check(string what, StatusCode status, string detail, bool decodes)
        {
            Count(status);
            bool domain = Array.IndexOf(s_domainStatuses, status) >= 0;
            bool proper = domain || (!decodes && status is StatusCode.Internal or StatusCode.Unknown);
            if (!proper) Fail($"{what}: {status} {detail}");
            else if (!domain)
            {
                string note = $"{what.Split(' ')[0]} {status} {detail}";
                if (_notes.Count < 20 && !_notes.Contains(note)) _notes.Add(note);
            }
        }
    }

    private static bool Decodes(MessageParser parser, byte[] body)
    {
        try
        {
            parser.ParseFrom(body);
            return true;
        }
        catch (InvalidProtocolBufferException) { return false; }
    }

    private static byte[] Encode(IMessage message) => message.ToByteArray();

    private static byte[] Mutate(Random random, byte[] body)
    {
        switch (random.Next(3))
        {
            case 0:
                if (body.Length > 0) for (int f = random.Next(1, 4); f > 0; f--) body[random.Next(body.Length)] ^= (byte)(1 << random.Next(8));
                return body;
            case 1:
                return body.Length == 0 ? body : body[..random.Next(body.Length)];
            default:
                var tail = new byte[random.Next(1, 64)];
                random.NextBytes(tail);
                return [.. body, .. tail];
        }
    }

    private static V1.CollectionSchema Schema(string name, V1.KeyKind key, int dims, bool sparse)
    {
        var schema = new V1.CollectionSchema { Name = name, KeyKind = key, Dense = new V1.DenseField { Dimension = (uint)dims, Metric = V1.Metric.Cosine } };
        if (sparse) schema.Sparse = new V1.SparseField { VocabularySize = 1000 };
        return schema;
    }

    private static (RawMethod Method, IMessage Message) RandomValidRequest(Random random, string[] names, FuzzOptions options)
    {
        int pick = random.Next(100);
        if (pick < 45) return (s_unary[8], new V1.SearchRequest { Collection = Pick(random, names), Query = RandomQuery(random, options) });
        if (pick < 55)
        {
            var batch = new V1.SearchBatchRequest { Collection = Pick(random, names) };
            int n = random.Next(8) == 0 ? options.MaxBatch + 1 : random.Next(0, 5);
            for (int i = 0; i < n; i++) batch.Queries.Add(RandomQuery(random, options));
            return (s_unary[9], batch);
        }
        if (pick < 75) return (s_unary[5], RandomUpsert(random, names, options));
        if (pick < 82)
        {
            var get = new V1.GetRequest { Collection = Pick(random, names), WithVectors = random.Next(2) == 0, WithoutPayload = random.Next(2) == 0 };
            for (int i = random.Next(0, 4); i > 0; i--) get.Ids.Add(RandomId(random));
            return (s_unary[7], get);
        }
        if (pick < 88)
        {
            var delete = new V1.DeleteRequest { Collection = Pick(random, names) };
            for (int i = random.Next(0, 4); i > 0; i--) delete.Ids.Add(RandomId(random));
            return (s_unary[6], delete);
        }
        if (pick < 95)
        {
            // Odd schemas under throwaway names: most are refused, the few that are created are dropped again below.
            string name = random.Next(4) == 0 ? Pick(random, names) : "fz-odd-" + random.Next(20);
            var schema = new V1.CollectionSchema
            {
                Name = random.Next(10) == 0 ? RandomText(random, 200) : name,
                KeyKind = (V1.KeyKind)random.Next(-1, 4),
                PayloadKind = (V1.PayloadKind)random.Next(-1, 4),
                TextEncoders = random.Next(6) == 0,
            };
            if (random.Next(4) != 0)
                schema.Dense = new V1.DenseField
                {
                    Dimension = random.Next(4) switch { 0 => 0u, 1 => (uint)options.MaxDimension + 1, 2 => uint.MaxValue, _ => (uint)random.Next(1, 64) },
                    Metric = (V1.Metric)random.Next(-1, 6),
                };
            if (random.Next(3) == 0) schema.Sparse = new V1.SparseField { VocabularySize = random.Next(3) == 0 ? uint.MaxValue : (uint)random.Next(0, 5000) };
            return (s_unary[0], new V1.CreateCollectionRequest { Schema = schema });
        }
        if (pick < 98) return (s_unary[1], new V1.DropCollectionRequest { Name = "fz-odd-" + random.Next(20) });
        return random.Next(3) switch
        {
            0 => (s_unary[2], new V1.ListCollectionsRequest()),
            1 => (s_unary[3], new V1.DescribeCollectionRequest { Name = Pick(random, names) }),
            _ => (s_unary[4], new V1.CompactCollectionRequest { Name = Pick(random, names) }),
        };
    }

    private static V1.Query RandomQuery(Random random, FuzzOptions options)
    {
        var q = new V1.Query
        {
            K = random.Next(6) switch { 0 => 0u, 1 => uint.MaxValue, 2 => 100_000u, _ => (uint)random.Next(1, 50) },
            Mode = (V1.SearchMode)random.Next(-1, 6),
            Fusion = (V1.Fusion)random.Next(-1, 4),
            Candidates = random.Next(5) == 0 ? (uint)random.Next() : 0,
            WithPayload = random.Next(2) == 0,
        };
        if (random.Next(4) == 0) q.DenseWeight = RandomFloat(random);
        if (random.Next(4) == 0) q.SparseWeight = RandomFloat(random);
        if (random.Next(4) == 0) q.RrfK = (uint)random.Next();
        if (random.Next(3) != 0) AddVector(random, q.Vector, options);
        if (random.Next(3) == 0) q.Sparse = RandomSparse(random);
        if (options.WithText && random.Next(20) == 0) q.Text = RandomText(random, 40);
        else if (random.Next(30) == 0) q.Text = RandomText(random, 20);
        return q;
    }

    private static V1.UpsertRequest RandomUpsert(Random random, string[] names, FuzzOptions options)
    {
        var request = new V1.UpsertRequest { Collection = Pick(random, names) };
        int n = random.Next(10) == 0 ? options.MaxBatch + 1 : random.Next(0, 4);
        for (int i = 0; i < n; i++)
        {
            var record = new V1.Record { Id = RandomId(random) };
            if (random.Next(4) != 0) AddVector(random, record.Vector, options);
            if (random.Next(3) == 0) record.Sparse = RandomSparse(random);
            switch (random.Next(4))
            {
                case 0: record.Payload = ByteString.CopyFromUtf8("{\"n\": " + random.Next() + "}"); break;
                case 1:
                    var bytes = new byte[random.Next(1, 64)];
                    random.NextBytes(bytes);
                    record.Payload = ByteString.CopyFrom(bytes);
                    break;
            }
            if (options.WithText && random.Next(10) == 0) record.Text = RandomText(random, 60);
            request.Records.Add(record);
        }
        return request;
    }

    private static void AddVector(Random random, Google.Protobuf.Collections.RepeatedField<float> vector, FuzzOptions options)
    {
        int dims = random.Next(6) switch
        {
            0 => 0,
            1 => options.MaxDimension + 1,
            2 => random.Next(1, 16),
            3 => 384,
            _ => Dims,
        };
        for (int d = 0; d < dims; d++) vector.Add(random.Next(50) == 0 ? RandomFloat(random) : (float)(random.NextDouble() * 2 - 1));
    }

    private static V1.SparseVector RandomSparse(Random random)
    {
        var sparse = new V1.SparseVector();
        int n = random.Next(0, 8);
        for (int i = 0; i < n; i++) sparse.Indices.Add(random.Next(5) == 0 ? (uint)random.Next() : (uint)random.Next(0, 1200));
        int values = random.Next(8) == 0 ? n + 1 : n;
        for (int i = 0; i < values; i++) sparse.Values.Add(random.Next(10) == 0 ? RandomFloat(random) : (float)random.NextDouble());
        return sparse;
    }

    private static V1.RecordId RandomId(Random random) => random.Next(6) switch
    {
        0 => new V1.RecordId(),
        1 => new V1.RecordId { Text = "" },
        2 => new V1.RecordId { Text = RandomText(random, 600) },
        3 => new V1.RecordId { Number = random.NextInt64(long.MinValue, long.MaxValue) },
        4 => new V1.RecordId { Number = random.Next(0, 50) },
        _ => new V1.RecordId { Text = "k" + random.Next(0, 50) },
    };

    private static float RandomFloat(Random random) => random.Next(6) switch
    {
        0 => float.NaN,
        1 => float.PositiveInfinity,
        2 => float.NegativeInfinity,
        3 => -1,
        4 => float.MaxValue,
        _ => BitConverter.Int32BitsToSingle(random.Next()),
    };

    private static string RandomText(Random random, int maxChars)
    {
        var chars = new char[random.Next(0, maxChars)];
        for (int i = 0; i < chars.Length; i++)
        {
            chars[i] = random.Next(4) switch
            {
                0 => (char)random.Next(0x20, 0x7f),
                1 => (char)random.Next(0, 0x20),
                2 => (char)random.Next(0xa0, 0x3000),
                _ => (char)random.Next(0xd800, 0xe000), // lone surrogates: not valid UTF-16
            };
        }
        return new string(chars);
    }

    private static string Pick(Random random, string[] names) => names[random.Next(names.Length)];
}

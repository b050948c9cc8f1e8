using System.CommandLine;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Errors;
using Retrieval.Service.Client;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Cli.Commands;

/// <summary>`retrieval client ...`: drive a running `retrieval serve` without writing code.</summary>
public static class ClientCommand
{
    private static readonly JsonFormatter s_json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    public static Command Create(CliHost host)
    {
        var server = new Option<string>("--server", "-s")
        {
            Description = "Server URL.",
            DefaultValueFactory = _ => "http://127.0.0.1:50051",
            Recursive = true,
        };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "API key, when the server needs one (default: the RETRIEVAL_API_KEY environment variable).",
            Recursive = true,
        };
        var command = new Command("client", "Talk to a running `retrieval serve`: create/list/describe/drop collections, upsert/get/delete records, search; replay a KV dataset through its KV cache.")
        {
            server, apiKey,
        };
        host.Examples(command,
            "retrieval client create docs --dense-dims 384 --metric cosine --sparse --text-encoders",
            "retrieval client search docs --text \"what is a vector database\" --k 5");

        RetrievalClient Connect(ParseResult parse) => new(parse.GetValue(server)!,
            parse.GetValue(apiKey) ?? NullIfEmpty(Environment.GetEnvironmentVariable("RETRIEVAL_API_KEY")));

        var name = () => new Argument<string>("name") { Description = "Collection name." };

        // create
        {
            var n = name();
            var denseDims = new Option<int>("--dense-dims") { Description = "Dense field dimension (omit for no dense field)." };
            var metric = new Option<string>("--metric") { Description = "Dense metric.", DefaultValueFactory = _ => "cosine" }.AcceptOnlyFromAmong("l2", "ip", "cosine");
            var sparse = new Option<bool>("--sparse") { Description = "Add a sparse field (bert-base-uncased vocabulary unless --vocab)." };
            var vocab = new Option<int>("--vocab") { Description = "Sparse vocabulary size (0 = 30522, bert-base-uncased)." };
            var text = new Option<bool>("--text-encoders") { Description = "Let records and queries carry text the server embeds (MiniLM, needs 384 dims) and tokenizes (BM25)." };
            var keys = new Option<string>("--keys") { Description = "Key kind.", DefaultValueFactory = _ => "string" }.AcceptOnlyFromAmong("string", "integer");
            var payload = new Option<string>("--payload") { Description = "Payload kind.", DefaultValueFactory = _ => "json" }.AcceptOnlyFromAmong("json", "bytes");
            var denseIndex = new Option<string?>("--dense-index-kind") { Description = "How sealed segments index the dense field (default spann from --index-min-rows rows)." }.AcceptOnlyFromAmong("spann", "exact");
            var sparseIndex = new Option<string?>("--sparse-index-kind") { Description = "How sealed segments index the sparse field (default seismic from --index-min-rows rows)." }.AcceptOnlyFromAmong("seismic", "exact");
            var minRows = new Option<int?>("--index-min-rows") { Description = "Segments with fewer rows are scanned exactly (default 4096)." };
            var create = new Command("create", "Create a collection.") { n, denseDims, metric, sparse, vocab, text, keys, payload, denseIndex, sparseIndex, minRows };
            host.Examples(create, "retrieval client create docs --dense-dims 384 --metric cosine --sparse --text-encoders",
                "retrieval client create vectors --dense-dims 128 --metric l2 --keys integer");
            create.SetAction(parse => Call(parse, host, async () =>
            {
                var schema = new V1.CollectionSchema
                {
                    Name = parse.GetValue(n)!,
                    KeyKind = parse.GetValue(keys) == "integer" ? V1.KeyKind.Integer : V1.KeyKind.String,
                    PayloadKind = parse.GetValue(payload) == "bytes" ? V1.PayloadKind.Bytes : V1.PayloadKind.Json,
                    TextEncoders = parse.GetValue(text),
                };
                if (parse.GetValue(denseDims) is > 0 and var dims)
                    schema.Dense = new V1.DenseField { Dimension = (uint)dims, Metric = ToMetric(parse.GetValue(metric)!) };
                if (parse.GetValue(sparse)) schema.Sparse = new V1.SparseField { VocabularySize = (uint)Math.Max(0, parse.GetValue(vocab)) };
                int? rows = parse.GetValue(minRows);
                if (rows is < 1) throw new RetrievalException(ErrorKind.InvalidInput, $"--index-min-rows must be >= 1, got {rows}");
                if (schema.Dense is not null && (parse.GetValue(denseIndex) is not null || rows is not null))
                {
                    schema.Dense.Index = new V1.DenseIndex { Kind = parse.GetValue(denseIndex) == "exact" ? V1.DenseIndexKind.Exact : V1.DenseIndexKind.Spann };
                    if (rows is int r) schema.Dense.Index.MinRows = (uint)r;
                }
                if (schema.Sparse is not null && (parse.GetValue(sparseIndex) is not null || rows is not null))
                {
                    schema.Sparse.Index = new V1.SparseIndex { Kind = parse.GetValue(sparseIndex) == "exact" ? V1.SparseIndexKind.Exact : V1.SparseIndexKind.Seismic };
                    if (rows is int r) schema.Sparse.Index.MinRows = (uint)r;
                }
                using var client = Connect(parse);
                WriteInfo(host, parse, await client.CreateAsync(schema));
            }));
            command.Subcommands.Add(create);
        }
        // list
        {
            var list = new Command("list", "List collections with their record counts.");
            host.Examples(list, "retrieval client list", "retrieval client list --json");
            list.SetAction(parse => Call(parse, host, async () =>
            {
                using var client = Connect(parse);
                foreach (var info in (await client.ListAsync()).Collections) WriteInfo(host, parse, info);
            }));
            command.Subcommands.Add(list);
        }
        // describe
        {
            var n = name();
            var describe = new Command("describe", "Show a collection's schema and counts (records, segments, tombstones).") { n };
            host.Examples(describe, "retrieval client describe docs", "retrieval client describe docs --json");
            describe.SetAction(parse => Call(parse, host, async () =>
            {
                using var client = Connect(parse);
                WriteInfo(host, parse, await client.DescribeAsync(parse.GetValue(n)!));
            }));
            command.Subcommands.Add(describe);
        }
        // drop
        {
            var n = name();
            var drop = new Command("drop", "Drop a collection and its records.") { n };
            host.Examples(drop, "retrieval client drop docs");
            drop.SetAction(parse => Call(parse, host, async () =>
            {
                using var client = Connect(parse);
                await client.DropAsync(parse.GetValue(n)!);
                host.Out.WriteLine(parse.GetValue(host.Json) ? $"{{\"dropped\":\"{parse.GetValue(n)}\"}}" : $"dropped {parse.GetValue(n)}");
            }));
            command.Subcommands.Add(drop);
        }
        // compact
        {
            var n = name();
            var compact = new Command("compact", "Merge a collection's sealed segments, dropping deleted and overwritten rows (searches continue).") { n };
            host.Examples(compact, "retrieval client compact docs");
            compact.SetAction(parse => Call(parse, host, async () =>
            {
                using var client = Connect(parse);
                var result = await client.CompactAsync(parse.GetValue(n)!);
                host.Out.WriteLine(parse.GetValue(host.Json)
                    ? $"{{\"compacted\":{(result.Compacted ? "true" : "false")},\"dropped_rows\":{result.DroppedRows}}}"
                    : result.Compacted ? $"compacted, dropped {result.DroppedRows} dead rows" : "nothing to compact");
            }));
            command.Subcommands.Add(compact);
        }
        // attach
        {
            var n = name();
            var index = new Option<string?>("--index") { Description = "SPANN index directory (retrieval build spann --out) for the dense field; a path on the server." };
            var sparseIndex = new Option<string?>("--sparse-index") { Description = "Seismic index directory (retrieval build seismic --out) for the sparse field; a path on the server." };
            var ids = new Option<string?>("--ids") { Description = "File with one id per line in row order (default: the Seismic document ids, else the row number)." };
            var payloads = new Option<string?>("--payloads") { Description = "File with one payload per line in row order (JSON for JSON collections)." };
            var attach = new Command("attach", "Attach batch-built index output to a collection as an immutable segment (bulk import).") { n, index, sparseIndex, ids, payloads };
            host.Examples(attach, "retrieval client attach docs --index /data/spann-docs --ids /data/ids.txt --payloads /data/payloads.jsonl");
            attach.SetAction(parse => Call(parse, host, async () =>
            {
                using var client = Connect(parse);
                static string Full(string? path) => string.IsNullOrEmpty(path) ? "" : Path.GetFullPath(path);
                var result = await client.Collections.AttachSegmentAsync(new Retrieval.Service.Protocol.AttachSegmentRequest
                {
                    Name = parse.GetValue(n)!,
                    DenseIndexDir = Full(parse.GetValue(index)),
                    SparseIndexDir = Full(parse.GetValue(sparseIndex)),
                    IdsPath = Full(parse.GetValue(ids)),
                    PayloadsPath = Full(parse.GetValue(payloads)),
                }, client.Headers);
                host.Out.WriteLine(parse.GetValue(host.Json)
                    ? $"{{\"rows\":{result.Rows},\"replaced\":{result.Replaced},\"segment\":{result.Segment}}}"
                    : $"attached {result.Rows} records ({result.Replaced} replaced) as segment {result.Segment}");
            }));
            command.Subcommands.Add(attach);
        }
        // upsert
        {
            var n = name();
            var file = new Option<string>("--file", "-f") { Description = "JSON Lines records: {\"id\":…, \"text\":…, \"vector\":[…], \"sparse\":{\"indices\":[…],\"values\":[…]}, \"payload\":{…}}.", Required = true };
            var batch = new Option<int>("--batch") { Description = "Records per streamed message.", DefaultValueFactory = _ => 256 };
            var upsert = new Command("upsert", "Upsert records from a JSON Lines file through one streaming call; prints the count.") { n, file, batch };
            host.Examples(upsert, "retrieval client upsert docs --file records.jsonl");
            upsert.SetAction(parse => Call(parse, host, async () =>
            {
                string collection = parse.GetValue(n)!;
                int size = Math.Max(1, parse.GetValue(batch));
                using var client = Connect(parse);
                ulong count = await client.UpsertStreamAsync(Batches(RecordJsonl.Read(parse.GetValue(file)!), collection, size));
                host.Out.WriteLine(parse.GetValue(host.Json) ? $"{{\"upserted\":{count}}}" : $"upserted {count}");
            }));
            command.Subcommands.Add(upsert);
        }
        // get / delete
        {
            var n = name();
            var ids = new Argument<string[]>("ids") { Description = "Record ids (integers for integer-key collections).", Arity = ArgumentArity.OneOrMore };
            var vectors = new Option<bool>("--with-vectors") { Description = "Include the vectors." };
            var get = new Command("get", "Read records by id.") { n, ids, vectors };
            host.Examples(get, "retrieval client get docs doc-1 doc-2 --json");
            get.SetAction(parse => Call(parse, host, async () =>
            {
                using var client = Connect(parse);
                var request = new V1.GetRequest { Collection = parse.GetValue(n)!, WithVectors = parse.GetValue(vectors) };
                request.Ids.Add(await ToIds(client, request.Collection, parse.GetValue(ids)!));
                foreach (var result in (await client.GetAsync(request)).Results)
                {
                    if (parse.GetValue(host.Json)) host.Out.WriteLine(s_json.Format(result));
                    else host.Out.WriteLine(result.Found ? $"{IdText(result.Id)}\t{result.Record.Payload.ToStringUtf8()}" : $"{IdText(result.Id)}\t(not found)");
                }
            }));
            command.Subcommands.Add(get);

            var dn = name();
            var dids = new Argument<string[]>("ids") { Description = "Record ids.", Arity = ArgumentArity.OneOrMore };
            var delete = new Command("delete", "Delete records by id; prints how many existed.") { dn, dids };
            host.Examples(delete, "retrieval client delete docs doc-1 doc-2");
            delete.SetAction(parse => Call(parse, host, async () =>
            {
                using var client = Connect(parse);
                var request = new V1.DeleteRequest { Collection = parse.GetValue(dn)! };
                request.Ids.Add(await ToIds(client, request.Collection, parse.GetValue(dids)!));
                ulong deleted = await client.DeleteAsync(request);
                host.Out.WriteLine(parse.GetValue(host.Json) ? $"{{\"deleted\":{deleted}}}" : $"deleted {deleted}");
            }));
            command.Subcommands.Add(delete);
        }
        // search
        {
            var n = name();
            var text = new Option<string?>("--text") { Description = "Query text (collections with text encoders)." };
            var vectorFile = new Option<string?>("--vector-file") { Description = "File holding the dense query vector as numbers separated by commas/whitespace." };
            var vector = new Option<string?>("--vector") { Description = "Dense query vector inline, e.g. \"0.1,0.2,0.3\"." };
            var mode = new Option<string>("--mode") { Description = "Which field(s) to search; auto picks hybrid when both are available.", DefaultValueFactory = _ => "auto" }
                .AcceptOnlyFromAmong("auto", "dense", "sparse", "hybrid");
            var fusion = new Option<string>("--fusion") { Description = "Hybrid fusion.", DefaultValueFactory = _ => "rrf" }.AcceptOnlyFromAmong("rrf", "weighted");
            var k = CommonOptions.K(10);
            var payloads = new Option<bool>("--with-payload") { Description = "Print each hit's payload." };
            var search = new Command("search", "Search a collection by text or dense vector; prints rank, id, score (and payload).") { n, text, vectorFile, vector, mode, fusion, k, payloads };
            host.Examples(search, "retrieval client search docs --text \"what is a vector database\" --mode hybrid --k 10",
                "retrieval client search vectors --vector-file query.txt --k 5 --json");
            search.SetAction(parse => Call(parse, host, async () =>
            {
                var query = new V1.Query
                {
                    K = (uint)Math.Max(0, parse.GetValue(k)),
                    WithPayload = parse.GetValue(payloads),
                    Mode = parse.GetValue(mode) switch { "dense" => V1.SearchMode.Dense, "sparse" => V1.SearchMode.Sparse, "hybrid" => V1.SearchMode.Hybrid, _ => V1.SearchMode.Auto },
                    Fusion = parse.GetValue(fusion) == "weighted" ? V1.Fusion.Weighted : V1.Fusion.Rrf,
                };
                if (parse.GetValue(text) is { } t) query.Text = t;
                if (parse.GetValue(vector) is { } v) query.Vector.Add(RecordJsonl.ParseVector(v, "--vector"));
                if (parse.GetValue(vectorFile) is { } f)
                {
                    if (!File.Exists(f)) throw new RetrievalException(ErrorKind.NotFound, $"vector file {f} does not exist");
                    query.Vector.Add(RecordJsonl.ParseVector(File.ReadAllText(f), f));
                }
                if (query.Text.Length == 0 && query.Vector.Count == 0)
                    throw new UsageException("give --text, --vector or --vector-file");
                using var client = Connect(parse);
                var response = await client.SearchAsync(parse.GetValue(n)!, query);
                int rank = 0;
                foreach (var hit in response.Hits)
                {
                    rank++;
                    if (parse.GetValue(host.Json)) host.Out.WriteLine(HitJson(rank, hit, query.WithPayload));
                    else host.Out.WriteLine($"{rank}\t{IdText(hit.Id)}\t{hit.Score.ToString("G7", CultureInfo.InvariantCulture)}" + (query.WithPayload ? "\t" + hit.Payload.ToStringUtf8() : ""));
                }
            }));
            command.Subcommands.Add(search);
        }
        command.Subcommands.Add(ClientKvReplayCommand.Create(host, server, apiKey, (parse, action) => Call(parse, host, action)));
        return command;
    }

    private static IEnumerable<V1.UpsertRequest> Batches(IEnumerable<V1.Record> records, string collection, int size)
    {
        var request = new V1.UpsertRequest { Collection = collection };
        foreach (var r in records)
        {
            request.Records.Add(r);
            if (request.Records.Count == size)
            {
                yield return request;
                request = new V1.UpsertRequest { Collection = collection };
            }
        }
        if (request.Records.Count > 0) yield return request;
    }

    private static int Call(ParseResult parse, CliHost host, Func<Task> action)
    {
        try
        {
            action().GetAwaiter().GetResult();
        }
        catch (RpcException e)
        {
            var kind = e.StatusCode switch
            {
                StatusCode.InvalidArgument or StatusCode.AlreadyExists or StatusCode.Unauthenticated => ErrorKind.InvalidInput,
                StatusCode.NotFound => ErrorKind.NotFound,
                StatusCode.ResourceExhausted => ErrorKind.ResourceExhausted,
                StatusCode.FailedPrecondition => ErrorKind.Incompatible,
                StatusCode.DataLoss => ErrorKind.Corrupt,
                _ => ErrorKind.Internal,
            };
            string detail = e.StatusCode == StatusCode.Unavailable
                ? $"cannot reach the server at {parse.GetValue<string>("--server")} ({e.Status.Detail}); is `retrieval serve` running?"
                : e.Status.Detail;
            throw new RetrievalException(kind, $"server replied {e.StatusCode}: {detail}");
        }
        host.Out.Flush();
        return ExitCodes.Success;
    }

    private static void WriteInfo(CliHost host, ParseResult parse, V1.CollectionInfo info)
    {
        if (parse.GetValue(host.Json))
        {
            host.Out.WriteLine(s_json.Format(info));
            return;
        }
        var s = info.Schema;
        var fields = new List<string>();
        if (s.Dense is not null) fields.Add($"dense {s.Dense.Dimension}-d {s.Dense.Metric}" + (s.Dense.Index is { } di ? $" ({di.Kind}, from {di.MinRows} rows)" : ""));
        if (s.Sparse is not null) fields.Add($"sparse vocab {s.Sparse.VocabularySize}" + (s.Sparse.Index is { } si ? $" ({si.Kind}, from {si.MinRows} rows)" : ""));
        if (s.TextEncoders) fields.Add("text encoders");
        host.Out.WriteLine($"{s.Name}\trecords {info.RecordCount}\t{string.Join(", ", fields)}\tkeys {s.KeyKind}\tsegments {info.SegmentCount}\ttombstones {info.Tombstones}\tindexed segments {info.IndexedSegments}\tattached {info.AttachedSegments}\tcompactions {info.Compactions}\tbackground jobs {info.BackgroundJobs}");
    }

    /// <summary>{"rank":1,"id":…,"score":…,"payload":…}; a JSON payload is embedded as JSON, other bytes as a string.</summary>
    private static string HitJson(int rank, V1.Hit hit, bool withPayload)
    {
        using var buffer = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("rank", rank);
            if (hit.Id.KindCase == V1.RecordId.KindOneofCase.Number) w.WriteNumber("id", hit.Id.Number);
            else w.WriteString("id", hit.Id.Text);
            w.WriteNumber("score", hit.Score);
            if (withPayload && !hit.Payload.IsEmpty)
            {
                w.WritePropertyName("payload");
                try
                {
                    using var doc = System.Text.Json.JsonDocument.Parse(hit.Payload.Memory);
                    doc.RootElement.WriteTo(w);
                }
                catch (System.Text.Json.JsonException)
                {
                    w.WriteStringValue(hit.Payload.ToStringUtf8());
                }
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Ids typed on the command line, as the collection's key kind wants them.</summary>
    private static async Task<List<V1.RecordId>> ToIds(RetrievalClient client, string collection, string[] texts)
    {
        var info = await client.DescribeAsync(collection);
        bool integer = info.Schema.KeyKind == V1.KeyKind.Integer;
        var ids = new List<V1.RecordId>(texts.Length);
        foreach (var t in texts)
        {
            if (!integer) ids.Add(new V1.RecordId { Text = t });
            else if (long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n)) ids.Add(new V1.RecordId { Number = n });
            else throw new UsageException($"id '{t}' is not an integer; collection '{collection}' uses integer keys");
        }
        return ids;
    }

    private static V1.Metric ToMetric(string name) => name switch
    {
        "l2" => V1.Metric.L2,
        "ip" => V1.Metric.InnerProduct,
        _ => V1.Metric.Cosine,
    };

    private static string IdText(V1.RecordId id) =>
        id.KindCase == V1.RecordId.KindOneofCase.Number ? id.Number.ToString(CultureInfo.InvariantCulture) : id.Text;

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

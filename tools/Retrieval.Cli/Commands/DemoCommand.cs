using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Retrieval.Bench.Demo;
using Retrieval.Cli.Hosting;
using Retrieval.Index.Vectors;
using Retrieval.Query.Engine;
using Retrieval.Service.Client;
using Retrieval.Service.Hosting;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Cli.Commands;

/// <summary>
/// `retrieval demo`: the engine end to end with nothing to download — an embedded collection over the licence texts
/// every Debian system ships, text searches in three modes, then (with --serve) the same data over gRPC.
/// </summary>
public static class DemoCommand
{
    public const string CollectionName = "licenses";

    private static readonly string[] s_defaultQueries =
    [
        "can I charge money for copies of the software",
        "no warranty if the program is defective",
        "patent license granted by contributors",
    ];

    public static Command Create(CliHost host)
    {
        var data = new Option<string?>("--data") { Description = "Engine data directory (default: a temporary one, deleted on exit). An existing demo collection there is reused." };
        var texts = new Option<string?>("--texts") { Description = "Use this file instead (one passage a line, or id<TAB>text)." };
        var limit = new Option<int>("--limit") { Description = "Passages to load (the encoder embeds them: keep it small on slow machines).", DefaultValueFactory = _ => 200 };
        var query = new Option<string[]>("--query") { Description = "Query text (repeatable). Default: three questions about licences.", AllowMultipleArgumentsPerToken = false };
        var k = CommonOptions.K(3);
        var serve = new Option<bool>("--serve") { Description = "Afterwards serve the data directory over gRPC (retrieval.v1) until Ctrl+C." };
        var port = new Option<int>("--port", "-p") { Description = "Port for --serve; 0 picks a free one.", DefaultValueFactory = _ => ServerOptions.DefaultPort };
        var serveFor = new Option<int>("--serve-seconds") { Description = "With --serve: stop after this many seconds (0 = until Ctrl+C / SIGTERM)." };
        var command = new Command("demo",
            "Run the engine on real text with nothing to download: load paragraphs of the licence texts in " +
            "/usr/share/common-licenses (shipped by every Debian/Ubuntu system) into an embedded collection with server-side " +
            "encoders (MiniLM dense + BM25 sparse), search them by text (hybrid RRF, dense, sparse), and with --serve keep " +
            "serving them over gRPC for `retrieval client`.")
        {
            data, texts, limit, query, k, serve, port, serveFor,
        };
        host.Examples(command, "retrieval demo", "retrieval demo --serve", "retrieval demo --data ./demo-data --query \"may I modify the source\" --k 5");
        command.SetAction(parse =>
        {
            string? given = parse.GetValue(data);
            string dir = given ?? Path.Combine(Path.GetTempPath(), "retrieval-demo-" + Guid.NewGuid().ToString("N")[..8]);
            try
            {
                var queries = parse.GetValue(query) is { Length: > 0 } q ? q : s_defaultQueries;
                int topK = parse.GetValue(k);
                if (topK < 1 || topK > 100) throw new UsageException($"--k must be in [1, 100], got {topK}");
                RunEmbedded(host, parse, dir, parse.GetValue(texts), parse.GetValue(limit), queries, topK).GetAwaiter().GetResult();
                if (parse.GetValue(serve)) Serve(host, dir, parse.GetValue(port), parse.GetValue(serveFor), queries[0]).GetAwaiter().GetResult();
                return ExitCodes.Success;
            }
            finally
            {
                if (given is null) try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            }
        });
        return command;
    }

    private static async Task RunEmbedded(CliHost host, ParseResult parse, string dir, string? textsFile, int limit, string[] queries, int k)
    {
        bool json = parse.GetValue(host.Json);
        var clock = Stopwatch.StartNew();
        await using var engine = RetrievalEngine.Open(dir, EngineOptions.Default with { CheckpointInterval = TimeSpan.Zero });
        long records;
        string what;
        if (engine.ListCollections().Any(c => c.Schema.Name == CollectionName))
        {
            records = engine.Describe(CollectionName).RecordCount;
            what = $"reusing collection '{CollectionName}' ({records} passages) in {engine.DirectoryPath}";
        }
        else
        {
            var passages = textsFile is null ? LicensePassages.Load(LicensePassages.DefaultDirectory, limit) : LicensePassages.LoadLines(textsFile, limit);
            host.Error.WriteLine($"demo: embedding {passages.Count} passages of {(textsFile ?? LicensePassages.DefaultDirectory)} (MiniLM + BM25)...");
            await engine.CreateCollectionAsync(new CollectionSchema(CollectionName, KeyKind.String,
                new DenseFieldSchema(Retrieval.Query.Encoders.MiniLmEncoder.Dimension, Metric.Cosine),
                new SparseFieldSchema(SparseFieldSchema.BertVocabularySize), PayloadKind.Json, TextEncoders: true)).ConfigureAwait(false);
            var batch = new EngineRecord[passages.Count];
            for (int i = 0; i < batch.Length; i++)
            {
                var p = passages[i];
                var payload = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["source"] = p.Source, ["paragraph"] = p.Paragraph, ["text"] = p.Text });
                batch[i] = new EngineRecord(RecordKey.Of(p.Id), Payload: payload, Text: p.Text);
            }
            await engine.UpsertAsync(CollectionName, batch).ConfigureAwait(false);
            records = passages.Count;
            what = $"loaded {records} passages of {(textsFile ?? LicensePassages.DefaultDirectory + " (Debian base-files)")} into collection '{CollectionName}' in {engine.DirectoryPath}";
        }
        if (!json) host.Out.WriteLine($"{what} ({clock.Elapsed.TotalSeconds:F1} s)");

        foreach (var text in queries)
        {
            if (!json) host.Out.WriteLine($"\nquery: {text}");
            foreach (var mode in (SearchMode[])[SearchMode.Hybrid, SearchMode.Dense, SearchMode.Sparse])
            {
                var t0 = Stopwatch.GetTimestamp();
                var hits = engine.Search(CollectionName, new SearchRequest { Text = text, Mode = mode, K = k, WithPayload = true });
                double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                string modeName = mode == SearchMode.Hybrid ? "hybrid-rrf" : mode.ToString().ToLowerInvariant();
                for (int rank = 0; rank < hits.Count; rank++)
                {
                    string snippet = Snippet(hits[rank].Payload);
                    if (json)
                    {
                        host.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                        {
                            ["query"] = text,
                            ["mode"] = modeName,
                            ["rank"] = rank + 1,
                            ["id"] = hits[rank].Key.ToString(),
                            ["score"] = Math.Round(hits[rank].Score, 5),
                            ["text"] = snippet,
                            ["ms"] = Math.Round(ms, 2),
                        }));
                    }
                    else if (mode == SearchMode.Hybrid || rank == 0)
                    {
                        string label = rank == 0 ? $"  {modeName,-10}" : "            ";
                        host.Out.WriteLine(FormattableString.Invariant($"{label} {rank + 1}. {hits[rank].Key,-16} {hits[rank].Score,8:F4}  {Shorten(snippet, 90)}"));
                    }
                }
            }
        }
        host.Out.Flush();
    }

    private static async Task Serve(CliHost host, string dir, int port, int seconds, string checkQuery)
    {
        var server = await RetrievalServer.StartAsync(new ServerOptions
        {
            DataDirectory = dir,
            Port = port,
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
        }).ConfigureAwait(false);
        await using (server.ConfigureAwait(false))
        {
            host.Error.WriteLine($"listening on {server.Address} (data {dir})");
            // One call through the real gRPC path, so the demo shows the server answering, not just starting.
            using (var client = new RetrievalClient(server.Address.ToString()))
            {
                var response = await client.SearchAsync(CollectionName, new V1.Query { Text = checkQuery, Mode = V1.SearchMode.Hybrid, K = 1 }).ConfigureAwait(false);
                string top = response.Hits.Count > 0 ? response.Hits[0].Id.Text : "(none)";
                host.Out.WriteLine($"\nserving {server.Address}: gRPC hybrid search \"{checkQuery}\" -> {top}");
            }
            host.Out.WriteLine($"try: retrieval client --server {server.Address} search {CollectionName} --text \"may I modify the source code\" --mode hybrid --k 3");
            host.Out.WriteLine(seconds > 0 ? $"stopping after {seconds} s" : "Ctrl+C stops the server (the engine checkpoints on the way out)");
            host.Out.Flush();
            if (seconds > 0)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
                try { await server.WaitForShutdownAsync(timeout.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
            else await server.WaitForShutdownAsync().ConfigureAwait(false);
        }
        host.Out.WriteLine("stopped");
    }

    private static string Snippet(byte[]? payload)
    {
        if (payload is null) return "";
        using var doc = JsonDocument.Parse(payload);
        return doc.RootElement.TryGetProperty("text", out var t) ? t.GetString() ?? "" : "";
    }

    private static string Shorten(string text, int chars) => text.Length <= chars ? text : text[..(chars - 3)] + "...";
}

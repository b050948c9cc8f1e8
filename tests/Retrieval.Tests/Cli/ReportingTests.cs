using System.Text.Json;
using Retrieval.Bench.Reporting;
using Retrieval.Query.Indexes;

namespace Retrieval.Tests.Cli;

public class ReportingTests
{
    [Fact]
    public void SearchReportJsonHasEveryContractFieldInOrderWithNulls()
    {
        var report = new SearchReport { Index = "exact", Queries = 5, K = 10, RecallAtK = 1.0, Qps = 1234.5, Threads = 1 };

        using var doc = JsonDocument.Parse(ReportJson.ToJsonLine(report));
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();

        Assert.Equal(SearchReport.FieldNames, names);
        Assert.Equal("exact", doc.RootElement.GetProperty("index").GetString());
        Assert.Equal(1.0, doc.RootElement.GetProperty("recall_at_k").GetDouble());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("index_bytes_on_disk").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("p99_us").ValueKind);
    }

    [Fact]
    public void SweepSettingsAndDetailsMergeIntoTheSameObject()
    {
        var report = new SearchReport
        {
            Index = "spann",
            Queries = 1,
            K = 10,
            Settings = [new("search_heads", 64), new("pruning", "on")],
            Details = [new("bandwidth_fraction", 0.75)],
        };

        using var doc = JsonDocument.Parse(ReportJson.ToJsonLine(report));

        Assert.Equal(64, doc.RootElement.GetProperty("search_heads").GetInt32());
        Assert.Equal("on", doc.RootElement.GetProperty("pruning").GetString());
        Assert.Equal(0.75, doc.RootElement.GetProperty("bandwidth_fraction").GetDouble());
        Assert.Equal(SearchReport.FieldNames.Count + 3, doc.RootElement.EnumerateObject().Count());
    }

    [Fact]
    public void ASettingThatRepeatsAFixedFieldIsRejected()
    {
        var report = new SearchReport { Index = "x", Queries = 1, K = 1, Settings = [new("k", 5)] };

        var error = Assert.Throws<Retrieval.Index.Errors.RetrievalException>(() => report.Fields());
        Assert.Contains("'k'", error.Message);
    }

    [Fact]
    public void NonFiniteNumbersAreWrittenAsNull()
    {
        var report = new SearchReport { Index = "exact", Queries = 0, K = 10, RecallAtK = double.NaN, MeanUs = double.PositiveInfinity };

        using var doc = JsonDocument.Parse(ReportJson.ToJsonLine(report));

        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("recall_at_k").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("mean_us").ValueKind);
    }

    [Fact]
    public void FloatingPointValuesAreWrittenToSevenSignificantDigits()
    {
        var report = new SearchReport { Index = "exact", Queries = 1, K = 1, P95Us = 43.535000000000004, Qps = 22027.402088197716, RecallAtK = 0.1 + 0.2 };

        var json = ReportJson.ToJsonLine(report);

        Assert.Contains("\"p95_us\":43.535,", json);
        Assert.Contains("\"qps\":22027.4,", json);
        Assert.Contains("\"recall_at_k\":0.3,", json);
    }

    [Fact]
    public void BuildAndEvalReportsUseTheContractNames()
    {
        var build = new BuildReport { BuildSeconds = 1.5, IndexBytesOnDisk = 4096, PeakRssBytes = null };
        var eval = new EvalReport { NdcgAt10 = 0.66, MrrAt10 = 0.63, RecallAt100 = 0.9 };

        using var b = JsonDocument.Parse(ReportJson.ToJsonLine(build));
        using var e = JsonDocument.Parse(ReportJson.ToJsonLine(eval));

        Assert.Equal(["build_seconds", "index_bytes_on_disk", "peak_rss_bytes"], b.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, b.RootElement.GetProperty("peak_rss_bytes").ValueKind);
        Assert.Equal(["ndcg_at_10", "mrr_at_10", "recall_at_100"], e.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void TableLeavesOutAllNullColumnsAndFormatsUnits()
    {
        var rows = new IReport[]
        {
            new SearchReport { Index = "exact", Queries = 100, K = 10, RecallAtK = 1.0, MeanUs = 12.345, ResidentBytes = 3L << 20 },
            new SearchReport { Index = "exact", Queries = 100, K = 10, RecallAtK = 0.5, MeanUs = 7.0, ResidentBytes = 1536 },
        };

        var lines = ReportTable.Render(rows).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(4, lines.Length); // header, rule, two rows
        Assert.Contains("recall@k", lines[0]);
        Assert.DoesNotContain("index bytes on disk", lines[0]);
        Assert.Contains("12.3", lines[2]);
        Assert.Contains("3.0 MiB", lines[2]);
        Assert.Contains("1.5 KiB", lines[3]);
        Assert.Contains("0.5000", lines[3]);
    }

    [Fact]
    public void ProcStatusParsingReadsKilobytes()
    {
        const string status = "Name:\tdotnet\nVmPeak:\t  999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";

        Assert.True(ProcessMemory.TryParseStatusField(status, "VmRSS", out long rss));
        Assert.True(ProcessMemory.TryParseStatusField(status, "VmHWM", out long peak));
        Assert.False(ProcessMemory.TryParseStatusField(status, "VmSwap", out _));
        Assert.Equal(1024L * 1024, rss);
        Assert.Equal(2048L * 1024, peak);
    }

    [Fact]
    public void ProcessMemoryReportsAPlausibleResidentSet()
    {
        long resident = ProcessMemory.ResidentBytes();
        Assert.InRange(resident, 1L << 20, 1L << 40);
        Assert.InRange(ProcessMemory.PeakResidentBytes(), 1L << 20, 1L << 40);
        // Two separate reads may disagree (the kernel batches RSS counters per thread), so compare peak and
        // resident within one snapshot of /proc/self/status, where VmHWM >= VmRSS holds.
        if (File.Exists("/proc/self/status"))
        {
            var status = File.ReadAllText("/proc/self/status");
            Assert.True(ProcessMemory.TryParseStatusField(status, "VmRSS", out long rss));
            Assert.True(ProcessMemory.TryParseStatusField(status, "VmHWM", out long hwm));
            Assert.True(hwm >= rss, $"VmHWM {hwm} < VmRSS {rss}");
        }
    }
}

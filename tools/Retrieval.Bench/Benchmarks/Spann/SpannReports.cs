using Retrieval.Bench.Reporting;
using Retrieval.Index.Spann;
using Retrieval.Index.Vectors;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Benchmarks.Spann;

/// <summary>The result line of a SPANN build: time, size, peak memory, the replica and posting-length distributions.</summary>
public static class SpannReports
{
    public static BuildReport Build(SpannBuildResult result, long? peakRssBytes)
    {
        var m = result.Manifest;
        var s = m.Stats;
        var details = new List<ReportField>
        {
            new("index", "spann"),
            new("vectors", m.VectorCount),
            new("dimension", m.Dimension),
            new("metric", m.Metric.ToName()),
            new("storage", m.Storage.ToName()),
            new("heads", m.HeadCount),
            new("skipped_rows", m.SkippedRows),
            new("mean_replicas", s.MeanReplicas),
            new("replica_histogram", string.Join(' ', s.ReplicaHistogram)),
            new("posting_cap", s.PostingCap),
            new("posting_length_min", s.MinPostingLength),
            new("posting_length_mean", s.MeanPostingLength),
            new("posting_length_p50", s.P50PostingLength),
            new("posting_length_p99", s.P99PostingLength),
            new("posting_length_max", s.MaxPostingLength),
            new("replicas_dropped_by_cap", s.ReplicasDroppedByCap),
            new("vectors_moved_by_cap", s.VectorsMovedByCap),
            new("vectors_in_no_posting", s.VectorsInNoPosting),
        };
        double cpuTotal = 0;
        for (int i = 0; i < result.Phases.Count; i++)
        {
            var (phase, seconds) = result.Phases[i];
            string key = PhaseKey(phase);
            details.Add(new("phase_" + key, seconds));
            if (i < result.PhaseResources.Count)
            {
                details.Add(new("cpu_" + key, result.PhaseResources[i].CpuSeconds));
                details.Add(new("rss_after_" + key + "_bytes", result.PhaseResources[i].ResidentBytes));
                cpuTotal += result.PhaseResources[i].CpuSeconds;
            }
        }
        if (result.PhaseResources.Count > 0) details.Add(new("build_cpu_seconds", cpuTotal));
        return new BuildReport { BuildSeconds = result.TotalSeconds, IndexBytesOnDisk = result.BytesOnDisk, PeakRssBytes = peakRssBytes, Details = details };
    }

    private static string PhaseKey(string phase)
    {
        int colon = phase.IndexOf(':');
        var key = (colon > 0 ? phase[..colon] : phase).Trim().ToLowerInvariant();
        var chars = key.ToCharArray();
        for (int i = 0; i < chars.Length; i++) if (!char.IsLetterOrDigit(chars[i])) chars[i] = '_';
        return new string(chars);
    }
}

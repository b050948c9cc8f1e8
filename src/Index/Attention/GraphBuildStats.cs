namespace Retrieval.Index.Attention;

/// <summary>Timings and counts of one build, for benchmarks and diagnostics.</summary>
public sealed record GraphBuildStats(
    int TrainingQueries,
    int Pivots,
    double TrainingNeighborsSeconds,
    double ProjectionSeconds,
    double ReverseEdgesSeconds,
    double ConnectivitySeconds,
    int ConnectivityEdges,
    int ExtraEntryPoints)
{
    public double TotalSeconds => TrainingNeighborsSeconds + ProjectionSeconds + ReverseEdgesSeconds + ConnectivitySeconds;
}

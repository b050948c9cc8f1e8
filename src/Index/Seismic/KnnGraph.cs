using Retrieval.Index.Errors;

namespace Retrieval.Index.Seismic;

/// <summary>
/// Each document's kappa approximate nearest neighbours by inner product (Bruch, Nardini, Rulli, Venturini, "Pairing
/// Clustered Inverted Indexes with kappa-NN Graphs for Fast Approximate Retrieval over Learned Sparse
/// Representations", CIKM 2024). Stored in the forward-row id space: row r's neighbours are
/// <c>Neighbours[r * Kappa .. (r + 1) * Kappa)</c>, best first, padded at the end with -1 where fewer were found.
/// A search expands its final top-k documents' neighbours (<see cref="SeismicSearchParameters.KnnRefine"/>), which
/// recovers true neighbours the pruned block walk missed.
/// </summary>
internal sealed class KnnGraph
{
    /// <summary>A padding slot (row had fewer than kappa neighbours).</summary>
    public const int NoNeighbour = -1;

    internal KnnGraph(int kappa, int rows, int[] neighbours)
    {
        if (kappa < 1) throw new ArgumentOutOfRangeException(nameof(kappa), kappa, "kappa must be >= 1");
        if (neighbours.LongLength != (long)kappa * rows)
            throw new ArgumentException($"{neighbours.LongLength} neighbour slots for {rows} rows x kappa {kappa}");
        Kappa = kappa;
        RowCount = rows;
        Neighbours = neighbours;
    }

    /// <summary>Neighbours stored per row (paper: kappa).</summary>
    public int Kappa { get; }
    public int RowCount { get; }
    /// <summary>Row-major rows x kappa forward-row ids, -1 padded.</summary>
    public int[] Neighbours { get; }

    public long SizeInBytes => Neighbours.LongLength * sizeof(int);

    /// <summary>Row <paramref name="row"/>'s neighbour slots (forward rows, best first, -1 padding at the end).</summary>
    public ReadOnlySpan<int> NeighboursOf(int row) => Neighbours.AsSpan(row * Kappa, Kappa);

    /// <summary>
    /// The first structural problem of a neighbour table (an id outside [-1, rows), a self loop, a real neighbour after
    /// padding, a neighbour twice in one row), or null when it has none.
    /// </summary>
    internal static string? FindProblem(int kappa, int rows, ReadOnlySpan<int> neighbours)
    {
        if (neighbours.Length != (long)kappa * rows) return $"{neighbours.Length} neighbour slots, expected {rows} rows x kappa {kappa}";
        for (int r = 0; r < rows; r++)
        {
            var row = neighbours.Slice(r * kappa, kappa);
            bool padded = false;
            for (int i = 0; i < kappa; i++)
            {
                int n = row[i];
                if (n == NoNeighbour)
                {
                    padded = true;
                    continue;
                }
                if ((uint)n >= (uint)rows) return $"row {r} slot {i}: neighbour {n} is outside [0, {rows}) and not -1 padding";
                if (n == r) return $"row {r} slot {i}: a self loop";
                if (padded) return $"row {r} slot {i}: neighbour {n} after -1 padding (padding must end the row)";
                for (int j = 0; j < i; j++)
                    if (row[j] == n) return $"row {r} slot {i}: neighbour {n} repeats slot {j}";
            }
        }
        return null;
    }

    internal static KnnGraph Validated(int kappa, int rows, int[] neighbours)
    {
        if (FindProblem(kappa, rows, neighbours) is { } problem)
            throw new RetrievalException(ErrorKind.Internal, "kNN graph: " + problem);
        return new KnnGraph(kappa, rows, neighbours);
    }
}

using System.Runtime.InteropServices;
using Retrieval.Index.Vectors;

namespace Retrieval.Index.Formats;

/// <summary>
/// Accumulates sparse rows in CSR form: entries of the current row arrive in any order, and
/// <see cref="CommitRow"/> sorts them by term id and either merges repeats (token bags) or reports them.
/// </summary>
internal sealed class SparseRowBuilder
{
    private readonly List<long> _offsets = [0];
    private readonly List<int> _indices = new(1024);
    private readonly List<float> _values = new(1024);
    private readonly List<int> _rowTerms = new(256);
    private readonly List<float> _rowWeights = new(256);

    public int RowCount => _offsets.Count - 1;

    public void Add(int termId, float weight)
    {
        _rowTerms.Add(termId);
        _rowWeights.Add(weight);
    }

    /// <summary>
    /// Closes the current row. With <paramref name="sumRepeats"/> repeated terms add up; otherwise the first
    /// repeated term id is returned (and the row is still closed) so the caller can report it; -1 when none.
    /// </summary>
    public int CommitRow(bool sumRepeats)
    {
        var terms = CollectionsMarshal.AsSpan(_rowTerms);
        var weights = CollectionsMarshal.AsSpan(_rowWeights);
        terms.Sort(weights);
        int duplicate = -1;
        for (int i = 0; i < terms.Length; i++)
        {
            if (i > 0 && terms[i] == terms[i - 1])
            {
                if (!sumRepeats)
                {
                    if (duplicate < 0) duplicate = terms[i];
                    continue;
                }
                _values[^1] += weights[i];
                continue;
            }
            _indices.Add(terms[i]);
            _values.Add(weights[i]);
        }
        _offsets.Add(_indices.Count);
        _rowTerms.Clear();
        _rowWeights.Clear();
        return duplicate;
    }

    public SparseMatrix Build(int columnCount) =>
        new(RowCount, columnCount, _offsets.ToArray(), _indices.ToArray(), _values.ToArray());
}

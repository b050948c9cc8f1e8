namespace Retrieval.Tests.VectorData;

/// <summary>
/// Collects async streams. Both System.Linq.Async (a transitive dependency) and .NET 10's System.Linq.AsyncEnumerable
/// define ToListAsync, so calls to either are ambiguous in this project.
/// </summary>
internal static class AsyncResults
{
    public static async Task<List<T>> Drain<T>(this IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var item in source) list.Add(item);
        return list;
    }

    public static async Task<T> DrainSingle<T>(this IAsyncEnumerable<T> source) => Assert.Single(await source.Drain());
}

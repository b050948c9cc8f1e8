using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Retrieval.Cli.Hosting;

/// <summary>
/// The one list syntax of every command: values separated by commas (`--ef 100,150,200`). Repeating the option or
/// giving several tokens after it (`--ef 100 150`) is accepted too and means the same, so a script written either way
/// keeps working; help and examples always show the comma form.
/// </summary>
public static class ListOptions
{
    public static Option<int[]> Ints(string name, int[] defaults, string description, int minimum = 1, string helpName = "N,N,...") =>
        Create(name, defaults, description, helpName, (text, option) =>
            int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= minimum
                ? v
                : throw new UsageException($"{option} expects comma-separated integers >= {minimum}, got '{text}'"));

    public static Option<float[]> Floats(string name, float[] defaults, string description, string helpName = "X,X,...") =>
        Create(name, defaults, description, helpName, (text, option) =>
            float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v)
                ? v
                : throw new UsageException($"{option} expects comma-separated numbers, got '{text}'"));

    public static Option<string[]> Strings(string name, string[] defaults, string description, string helpName = "A,B,...") =>
        Create(name, defaults, description, helpName, (text, _) => text);

    private static Option<T[]> Create<T>(string name, T[] defaults, string description, string helpName, Func<string, string, T> parse) =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => defaults,
            CustomParser = result => Parse(result, name, parse),
        };

    private static T[] Parse<T>(ArgumentResult result, string name, Func<string, string, T> parse)
    {
        var values = new List<T>();
        foreach (var token in result.Tokens)
            foreach (var part in token.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                try { values.Add(parse(part, name)); }
                catch (UsageException e)
                {
                    result.AddError(e.Message);
                    return [];
                }
            }
        return values.ToArray();
    }
}

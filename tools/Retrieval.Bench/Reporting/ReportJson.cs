using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Retrieval.Index.Errors;
using Retrieval.Query.Indexes;

namespace Retrieval.Bench.Reporting;

/// <summary>
/// Writes a report as one JSON object on one line (JSON Lines), fields in the report's order, nulls kept
/// so every line of a schema has the same keys. Non-finite numbers (NaN recall of an empty run) become null
/// because JSON has no NaN; other floating-point values are written to 7 significant digits.
/// </summary>
public static class ReportJson
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = false,
        // Result lines go to terminals and files, never into HTML: keep paths and '+' readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string ToJsonLine(IReport report)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            Write(writer, report);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static void Write(Utf8JsonWriter writer, IReport report)
    {
        writer.WriteStartObject();
        foreach (var field in report.Fields())
        {
            writer.WritePropertyName(field.Name);
            WriteValue(writer, field);
        }
        writer.WriteEndObject();
    }

    /// <summary>
    /// Measurements carry at most 7 meaningful digits; printing the shortest round-trip form of a computed double
    /// ("p95_us":43.535000000000004) only adds noise to every line.
    /// </summary>
    internal static double Significant(double value) =>
        value == 0 ? 0 : double.Parse(value.ToString("G7", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static void WriteValue(Utf8JsonWriter writer, ReportField field)
    {
        switch (field.Value)
        {
            case null: writer.WriteNullValue(); break;
            case string s: writer.WriteStringValue(s); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case int i: writer.WriteNumberValue(i); break;
            case long l: writer.WriteNumberValue(l); break;
            case double d when double.IsFinite(d): writer.WriteNumberValue(Significant(d)); break;
            case float f when float.IsFinite(f): writer.WriteNumberValue(Significant(f)); break;
            case double or float: writer.WriteNullValue(); break;
            default:
                throw new RetrievalException(ErrorKind.Internal,
                    $"report field '{field.Name}' holds a {field.Value.GetType().Name}; expected string, bool or a number");
        }
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Lguest.Cli.Api;

/// <summary>
/// Turns a request body (a client's bytes: hostile) into a request record, or into the one-line fault Firecracker
/// would answer with. The one place the API parses JSON; the fuzz target drives it with arbitrary bytes.
/// </summary>
internal static class ApiRequestParser
{
    /// <summary>The largest body accepted: Firecracker's default http_api_max_payload_size.</summary>
    public const int MaxPayloadBytes = 51200;

    /// <summary>The deepest nesting accepted: the deepest request (a rate limiter's token bucket in a drive) is 3.</summary>
    public const int MaxDepth = 8;

    private const string Prefix = "An error occurred when deserializing the json body of a request: ";

    /// <summary>Parses <paramref name="body"/> as <typeparamref name="T"/>; false with <paramref name="fault"/> for anything else.</summary>
    /// <param name="body">The client's bytes.</param>
    /// <param name="type">What they must be.</param>
    /// <param name="value">The request, when it parsed.</param>
    /// <param name="fault">Why not, in one line, when it did not.</param>
    /// <param name="maxBytes">The most bytes accepted: <see cref="MaxPayloadBytes"/> for a request.</param>
    public static bool TryParse<T>(ReadOnlySpan<byte> body, JsonTypeInfo<T> type, [NotNullWhen(true)] out T? value, [NotNullWhen(false)] out string? fault,
        int maxBytes = MaxPayloadBytes)
        where T : class
    {
        value = null;
        if (body.Length > maxBytes)
        {
            fault = $"Request payload with size {body.Length} is larger than the limit of {maxBytes} allowed by server.";
            return false;
        }
        try
        {
            value = JsonSerializer.Deserialize(body, type);
        }
        catch (JsonException e)
        {
            fault = OneLine(Prefix + Describe(e) + ".");
            return false;
        }
        if (value is null)
        {
            fault = Prefix + "the body is null, not an object.";
            return false;
        }
        fault = null;
        return true;
    }

    /// <summary>
    /// What was wrong, in serde's words where they exist (unknown field, duplicate field, missing field, invalid type),
    /// naming the field a client knows, never a .NET type. System.Text.Json's message is read for its kind only: the
    /// NativeAOT build keeps resource keys instead of texts (UseSystemResourceKeys), the JIT build the English text.
    /// </summary>
    private static string Describe(JsonException e)
    {
        string message = e.Message;
        string field = e.Path is { Length: > 1 } path ? path[(path.LastIndexOfAny(['.', '[']) + 1)..].TrimEnd(']').Trim('\'') : "";
        string at = e.Path is { Length: > 1 } where ? $" at {where}" : "";
        if (Has(message, "UnmappedJsonProperty", "could not be mapped"))
            return $"unknown field `{field}`";
        if (Has(message, "DuplicateProperties", "Duplicate"))
            return $"duplicate field `{field}`";
        if (Has(message, "RequiredPropertiesMissing", "missing required properties"))
            return $"missing field {string.Join(", ", Quoted(message).Select(f => $"`{f}`"))}";
        if (Has(message, "DisallowNull", "allow null"))
            return $"`{field}` cannot be null";
        if (Has(message, "UnableToConvert", "could not be converted"))
            return $"invalid type{at}";
        if (Has(message, "DepthTooLarge", "maximum allowed depth") || Has(message, "CycleDetected", "maximum configured depth"))
            return $"nested deeper than {MaxDepth}";
        return e.LineNumber is long line && e.BytePositionInLine is long column
            ? $"malformed JSON at line {line + 1} column {column + 1}"
            : $"malformed JSON{at}";
    }

    // A field name is the client's text, unescaped: a "\n" in it must not break the fault into two lines.
    private static string OneLine(string message) =>
        message.Any(char.IsControl) ? string.Concat(message.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())) : message;

    private static bool Has(string message, string key, string text) =>
        message.Contains(key, StringComparison.Ordinal) || message.Contains(text, StringComparison.OrdinalIgnoreCase);

    // The snake_case names in a message ('kernel_image_path' in either form of it).
    private static IEnumerable<string> Quoted(string message)
    {
        string[] parts = message.Split('\'');
        for (int i = 1; i < parts.Length; i += 2)
        {
            if (parts[i].Length > 0 && parts[i].All(c => c == '_' || char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)))
                yield return parts[i];
        }
    }

    /// <summary>Whether <paramref name="id"/> is an API resource id (Firecracker's checked_id): non-empty, alphanumeric or '_'.</summary>
    public static string? CheckId(string id)
    {
        if (id.Length == 0)
            return "The ID cannot be empty.";
        if (id.Length > 64 || !id.All(c => c == '_' || char.IsAsciiLetterOrDigit(c)))
            return "API Resource IDs can only contain alphanumeric characters and underscores.";
        return null;
    }
}

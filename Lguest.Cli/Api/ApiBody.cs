using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Lguest.Cli.Api;

/// <summary>
/// A request's body, read whatever its Content-Type (Firecracker's getting-started sends JSON with curl --data, as
/// application/x-www-form-urlencoded), bounded by <see cref="ApiRequestParser.MaxPayloadBytes"/>, then parsed.
/// </summary>
internal static class ApiBody
{
    /// <summary>Reads and parses the body as <typeparamref name="T"/>; on failure, the fault to answer with.</summary>
    public static async Task<(T? Value, IResult? Fault)> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type) where T : class
    {
        (byte[]? body, IResult? fault) = await ReadBytesAsync(request).ConfigureAwait(false);
        if (body is null)
            return (null, fault);
        if (body.Length == 0)
            return (null, ApiResults.Fault($"Empty {request.Method} request."));
        return ApiRequestParser.TryParse(body, type, out T? value, out string? why) ? (value, null) : (null, ApiResults.Fault(why));
    }

    /// <summary>A GET has no body (Firecracker refuses one).</summary>
    public static bool TryRefuseBody(HttpRequest request, [NotNullWhen(true)] out IResult? fault)
    {
        bool hasBody = request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;
        fault = hasBody ? ApiResults.Fault($"{request.Method} request cannot have a body.") : null;
        return hasBody;
    }

    private static async Task<(byte[]? Body, IResult? Fault)> ReadBytesAsync(HttpRequest request)
    {
        if (request.ContentLength > ApiRequestParser.MaxPayloadBytes)
            return (null, TooLarge(request.ContentLength.Value));
        var buffer = new byte[ApiRequestParser.MaxPayloadBytes + 1];
        int length = 0;
        try
        {
            while (length < buffer.Length)
            {
                int n = await request.Body.ReadAsync(buffer.AsMemory(length), request.HttpContext.RequestAborted).ConfigureAwait(false);
                if (n == 0)
                    break;
                length += n;
            }
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limits (the body's size or its data rate): one line, as every fault.
            return (null, ApiResults.Fault($"The request body could not be read: {e.Message}", e.StatusCode));
        }
        if (length > ApiRequestParser.MaxPayloadBytes)
            return (null, TooLarge(length));
        return (buffer[..length], null);
    }

    private static IResult TooLarge(long length) =>
        ApiResults.Fault($"Request payload with size {length} is larger than the limit of {ApiRequestParser.MaxPayloadBytes} allowed by server.");
}

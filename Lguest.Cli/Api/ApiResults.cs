using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Lguest.Cli.Api;

/// <summary>The API's answers: 204 on success, 200 with a JSON body for a GET, 400 with Firecracker's fault body.</summary>
internal static class ApiResults
{
    // Quotes and paths in a message stay readable ('x', not \u0027x\u0027): the body is JSON for a person as much as a program.
    private static readonly JsonWriterOptions FaultWriting = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static IResult Fault(string message, int status = StatusCodes.Status400BadRequest) =>
        TypedResults.Text(System.Text.Encoding.UTF8.GetString(FaultBody(message)), "application/json", System.Text.Encoding.UTF8, status);

    /// <summary>204 when <paramref name="fault"/> is null, else the fault.</summary>
    public static IResult From(string? fault) => fault is null ? TypedResults.NoContent() : Fault(fault);

    /// <summary><c>{"fault_message":"..."}</c>.</summary>
    public static byte[] FaultBody(string message)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, FaultWriting))
        {
            writer.WriteStartObject();
            writer.WriteString("fault_message", message);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }
}

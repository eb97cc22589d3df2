using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>
/// The shapes Firecracker's endpoints share: a JSON body read as a request record (or its fault), handed to the machine,
/// whose answer is 204 or a fault. Mapped as plain request delegates: no reflection, nothing for NativeAOT to trim.
/// </summary>
internal static class ApiRoutes
{
    /// <summary>
    /// <paramref name="method"/> <paramref name="path"/> with a body of <typeparamref name="T"/>: a body that does not
    /// parse gets its fault, one that does what <paramref name="handle"/> answers.
    /// </summary>
    public static void MapBody<T>(IEndpointRouteBuilder app, string method, string path, JsonTypeInfo<T> type, Func<T, Task<IResult>> handle)
        where T : class =>
        app.MapMethods(path, [method], async context =>
        {
            (T? body, IResult? fault) = await ApiBody.ReadAsync(context.Request, type).ConfigureAwait(false);
            IResult result = fault ?? await handle(body!).ConfigureAwait(false);
            await result.ExecuteAsync(context).ConfigureAwait(false);
        });

    /// <summary>PUT <paramref name="path"/>: a pre-boot resource set by <paramref name="set"/> (null: 204; else its fault).</summary>
    public static void MapPut<T>(IEndpointRouteBuilder app, string path, JsonTypeInfo<T> type, Func<T, string?> set) where T : class =>
        MapBody(app, "PUT", path, type, body => Task.FromResult(ApiResults.From(set(body))));

    /// <summary>
    /// PUT <paramref name="path"/>/{id}: one of a collection of pre-boot resources (drives, network interfaces), the id
    /// checked as Firecracker's checked_id before the body is read; PUT <paramref name="path"/> alone has an empty id.
    /// </summary>
    public static void MapPutById<T>(IEndpointRouteBuilder app, string path, JsonTypeInfo<T> type, Func<string, T, string?> set) where T : class
    {
        app.MapMethods(path, ["PUT"], context => ApiResults.Fault(ApiRequestParser.CheckId("")!).ExecuteAsync(context));
        app.MapMethods(path + "/{id}", ["PUT"], async context =>
        {
            string id = context.Request.RouteValues["id"] as string ?? "";
            IResult result;
            if (ApiRequestParser.CheckId(id) is { } bad)
            {
                result = ApiResults.Fault(bad);
            }
            else
            {
                (T? body, IResult? fault) = await ApiBody.ReadAsync(context.Request, type).ConfigureAwait(false);
                result = fault ?? ApiResults.From(set(id, body!));
            }
            await result.ExecuteAsync(context).ConfigureAwait(false);
        });
    }
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>GET /: what runs here and in which state.</summary>
internal static class InstanceInfoEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        app.MapGet("/", (HttpRequest request) => ApiBody.TryRefuseBody(request, out IResult? fault)
            ? fault
            : TypedResults.Json(machine.Info(), ApiJsonContext.Default.InstanceInfo));
    }
}

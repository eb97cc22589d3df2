using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>PUT /vsock, before the start.</summary>
internal static class VsockEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        app.MapGroup("/vsock").MapPut("", async (HttpRequest request) =>
        {
            (Vsock? vsock, IResult? fault) = await ApiBody.ReadAsync(request, ApiJsonContext.Default.Vsock);
            return fault ?? ApiResults.From(machine.SetVsock(vsock!));
        });
    }
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>PUT /boot-source, before the start.</summary>
internal static class BootSourceEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        app.MapGroup("/boot-source").MapPut("", async (HttpRequest request) =>
        {
            (BootSource? source, IResult? fault) = await ApiBody.ReadAsync(request, ApiJsonContext.Default.BootSource);
            return fault ?? ApiResults.From(machine.SetBootSource(source!));
        });
    }
}

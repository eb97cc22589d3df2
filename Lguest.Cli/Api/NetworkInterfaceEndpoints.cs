using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>PUT /network-interfaces/{iface_id}, before the start.</summary>
internal static class NetworkInterfaceEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        RouteGroupBuilder group = app.MapGroup("/network-interfaces");
        group.MapPut("", () => ApiResults.Fault(ApiRequestParser.CheckId("")!));
        group.MapPut("/{iface_id}", async (string iface_id, HttpRequest request) =>
        {
            if (ApiRequestParser.CheckId(iface_id) is { } bad)
                return ApiResults.Fault(bad);
            (NetworkInterface? network, IResult? fault) = await ApiBody.ReadAsync(request, ApiJsonContext.Default.NetworkInterface);
            return fault ?? ApiResults.From(machine.SetNetworkInterface(iface_id, network!));
        });
    }
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>/machine-config: GET at any time, PUT and PATCH before the start.</summary>
internal static class MachineConfigEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        RouteGroupBuilder group = app.MapGroup("/machine-config");
        group.MapGet("", (HttpRequest request) => ApiBody.TryRefuseBody(request, out IResult? fault)
            ? fault
            : TypedResults.Json(machine.MachineConfig, ApiJsonContext.Default.MachineConfiguration));
        group.MapPut("", async (HttpRequest request) =>
        {
            (MachineConfiguration? config, IResult? fault) = await ApiBody.ReadAsync(request, ApiJsonContext.Default.MachineConfiguration);
            return fault ?? ApiResults.From(machine.SetMachineConfig(config!));
        });
        group.MapPatch("", async (HttpRequest request) =>
        {
            (MachineConfigurationUpdate? update, IResult? fault) = await ApiBody.ReadAsync(request, ApiJsonContext.Default.MachineConfigurationUpdate);
            return fault ?? ApiResults.From(machine.UpdateMachineConfig(update!));
        });
    }
}

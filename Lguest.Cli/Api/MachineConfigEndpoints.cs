using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>/machine-config: GET at any time, PUT and PATCH before the start.</summary>
internal static class MachineConfigEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        app.MapGet("/machine-config", (HttpRequest request) => ApiBody.TryRefuseBody(request, out IResult? fault)
            ? fault
            : TypedResults.Json(machine.MachineConfig, ApiJsonContext.Default.MachineConfiguration));
        ApiRoutes.MapPut(app, "/machine-config", ApiJsonContext.Default.MachineConfiguration, machine.SetMachineConfig);
        ApiRoutes.MapBody(app, "PATCH", "/machine-config", ApiJsonContext.Default.MachineConfigurationUpdate,
            update => Task.FromResult(ApiResults.From(machine.UpdateMachineConfig(update))));
    }
}

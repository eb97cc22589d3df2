using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>PATCH /vm: pause or resume the running guest.</summary>
internal static class VmEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine) =>
        ApiRoutes.MapBody(app, "PATCH", "/vm", ApiJsonContext.Default.VmState, async state => state.State switch
        {
            VmState.Paused => ApiResults.From(await machine.PauseAsync()),
            VmState.Resumed => ApiResults.From(await machine.ResumeAsync()),
            _ => ApiResults.Fault($"An error occurred when deserializing the json body of a request: unknown state '{state.State}', " +
                $"expected {VmState.Paused} or {VmState.Resumed}."),
        });
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>PATCH /vm: pause or resume the running guest.</summary>
internal static class VmEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        app.MapGroup("/vm").MapPatch("", async (HttpRequest request) =>
        {
            (VmState? state, IResult? fault) = await ApiBody.ReadAsync(request, ApiJsonContext.Default.VmState);
            if (fault is not null)
                return fault;
            return state!.State switch
            {
                VmState.Paused => ApiResults.From(await machine.PauseAsync()),
                VmState.Resumed => ApiResults.From(await machine.ResumeAsync()),
                _ => ApiResults.Fault($"An error occurred when deserializing the json body of a request: unknown state '{state.State}', " +
                    $"expected {VmState.Paused} or {VmState.Resumed}."),
            };
        });
    }
}

using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>PUT /snapshot/create (post-boot, the guest paused) and PUT /snapshot/load (pre-boot).</summary>
internal static class SnapshotEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        ApiRoutes.MapBody(app, "PUT", "/snapshot/create", ApiJsonContext.Default.SnapshotCreateParams,
            async request => ApiResults.From(await machine.CreateSnapshotAsync(request)));
        ApiRoutes.MapBody(app, "PUT", "/snapshot/load", ApiJsonContext.Default.SnapshotLoadParams,
            async request => ApiResults.From(await machine.LoadSnapshotAsync(request)));
    }
}

using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>PUT /actions: InstanceStart before the start, SendCtrlAltDel after it.</summary>
internal static class ActionEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine) =>
        ApiRoutes.MapBody(app, "PUT", "/actions", ApiJsonContext.Default.InstanceActionInfo, async action => action.ActionType switch
        {
            InstanceActionInfo.InstanceStart => ApiResults.From(await machine.StartAsync()),
            InstanceActionInfo.SendCtrlAltDel => ApiResults.From(machine.RequestShutdown()),
            InstanceActionInfo.FlushMetrics => ApiResults.Fault("lguest keeps no metrics to flush."),
            _ => ApiResults.Fault($"An error occurred when deserializing the json body of a request: unknown action_type '{action.ActionType}', " +
                $"expected one of {InstanceActionInfo.FlushMetrics}, {InstanceActionInfo.InstanceStart}, {InstanceActionInfo.SendCtrlAltDel}."),
        });
}

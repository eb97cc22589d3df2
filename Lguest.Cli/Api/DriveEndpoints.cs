using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>PUT /drives/{drive_id}, before the start.</summary>
internal static class DriveEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        RouteGroupBuilder group = app.MapGroup("/drives");
        group.MapPut("", () => ApiResults.Fault(ApiRequestParser.CheckId("")!));
        group.MapPut("/{drive_id}", async (string drive_id, HttpRequest request) =>
        {
            if (ApiRequestParser.CheckId(drive_id) is { } bad)
                return ApiResults.Fault(bad);
            (Drive? drive, IResult? fault) = await ApiBody.ReadAsync(request, ApiJsonContext.Default.Drive);
            return fault ?? ApiResults.From(machine.SetDrive(drive_id, drive!));
        });
    }
}

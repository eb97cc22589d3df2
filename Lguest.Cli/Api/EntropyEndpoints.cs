using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lguest.Cli.Api;

/// <summary>PUT /entropy, before the start.</summary>
internal static class EntropyEndpoints
{
    public static void Map(IEndpointRouteBuilder app, ApiMachine machine)
    {
        app.MapGroup("/entropy").MapPut("", async (HttpRequest request) =>
        {
            (Entropy? entropy, IResult? fault) = await ApiBody.ReadAsync(request, ApiJsonContext.Default.Entropy);
            return fault ?? ApiResults.From(machine.SetEntropy(entropy!));
        });
    }
}

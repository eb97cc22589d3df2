using Microsoft.Extensions.Hosting;

namespace Lguest.Cli.Api;

/// <summary>
/// The API host's lifetime: none of its own. The default one would take SIGINT and SIGTERM to stop the server, while
/// the launcher already turns them into stopping the guest, after which the server stops with the process.
/// </summary>
internal sealed class ApiHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

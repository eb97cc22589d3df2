using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lguest.Cli.Api;

/// <summary>
/// <c>--api-sock</c>: Firecracker's API, HTTP/1.1 and JSON on a Unix socket, served by Kestrel with minimal APIs. One
/// set of endpoints per resource (<see cref="Resources"/>: add a resource there); any other method or path is
/// Firecracker's 400 "Invalid request method and/or path". Started only when asked: a run without the socket loads
/// none of it.
/// </summary>
/// <remarks>
/// A client cannot stall the guest (it runs on its own threads) nor the API for others: Kestrel serves connections
/// concurrently, drops one that sends nothing within <see cref="KeepAliveTimeout"/>, no complete request line and headers
/// within <see cref="HeadersTimeout"/> of its first byte, or its body slower than Kestrel's minimum data rate, and
/// bounds bodies, headers and connections.
/// </remarks>
internal sealed class ApiServer : IAsyncDisposable
{
    /// <summary>How long a connection may take to send its request line and headers.</summary>
    public static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a connection may stay idle: kept alive between requests, or silent from the start (Kestrel times a new
    /// connection by this until its first byte, then by <see cref="HeadersTimeout"/>). Short, so that silent clients
    /// holding every one of <see cref="MaxConnections"/> shut others out for seconds at most; a client's HTTP stack
    /// opens a new connection when it finds its idle one closed.
    /// </summary>
    public static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The most connections at once: an orchestrator needs a few; this bounds what idle clients can hold.</summary>
    public const int MaxConnections = 64;

    /// <summary>
    /// Every resource's endpoints, in Firecracker's order. The pre-boot PUTs of a resource record are one line each
    /// (<see cref="ApiRoutes"/>); a resource with rules of its own has its file.
    /// </summary>
    private static readonly Action<IEndpointRouteBuilder, ApiMachine>[] Resources =
    [
        InstanceInfoEndpoints.Map,
        MachineConfigEndpoints.Map,
        (app, machine) => ApiRoutes.MapPut(app, "/boot-source", ApiJsonContext.Default.BootSource, machine.SetBootSource),
        (app, machine) => ApiRoutes.MapPutById(app, "/drives", ApiJsonContext.Default.Drive, machine.SetDrive),
        (app, machine) => ApiRoutes.MapPutById(app, "/network-interfaces", ApiJsonContext.Default.NetworkInterface, machine.SetNetworkInterface),
        (app, machine) => ApiRoutes.MapPut(app, "/vsock", ApiJsonContext.Default.Vsock, machine.SetVsock),
        (app, machine) => ApiRoutes.MapPut(app, "/entropy", ApiJsonContext.Default.Entropy, machine.SetEntropy),
        ActionEndpoints.Map,
        VmEndpoints.Map,
        SnapshotEndpoints.Map,
    ];

    private readonly WebApplication _app;

    private ApiServer(WebApplication app, string socketPath)
    {
        _app = app;
        SocketPath = socketPath;
    }

    /// <summary>The socket's path.</summary>
    public string SocketPath { get; }

    /// <summary>Listens on <paramref name="socketPath"/> (which must not exist) and serves <paramref name="machine"/>.</summary>
    /// <exception cref="IOException">The socket cannot be created (the path exists, its folder does not, no permission).</exception>
    public static async Task<ApiServer> StartAsync(string socketPath, ApiMachine machine, ILoggerFactory loggerFactory, CancellationToken cancellation = default)
    {
        // Kestrel takes only an absolute path; a relative one is the working directory's, as for any file named here.
        socketPath = Path.GetFullPath(socketPath);
        if (File.Exists(socketPath) || Directory.Exists(socketPath))
            throw new IOException($"the API socket '{socketPath}' exists already (remove it, or name another)");
        // The empty builder: Kestrel and routing only. The slim one also reads appsettings.json from the working
        // directory and watches that whole tree for changes (inotify, a watch for each new folder: seccomp kills
        // lguest for one made while it runs), which a launcher has no use for.
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseKestrelCore();
        builder.Services.AddRoutingCore();
        builder.Services.AddLogging();
        builder.Services.AddSingleton(loggerFactory);
        // The launcher owns the process's signals and its end; the host only serves.
        builder.Services.AddSingleton<IHostLifetime, ApiHostLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenUnixSocket(socketPath, listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = MaxConnections;
            kestrel.Limits.MaxRequestBodySize = ApiRequestParser.MaxPayloadBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            kestrel.Limits.MaxRequestLineSize = 8 * 1024;
            kestrel.Limits.RequestHeadersTimeout = HeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = KeepAliveTimeout;
        });
        WebApplication app = builder.Build();
        app.Use(Contain);
        foreach (Action<IEndpointRouteBuilder, ApiMachine> map in Resources)
            map(app, machine);
        app.MapFallback((HttpRequest request) =>
            ApiResults.Fault($"Invalid request method and/or path: {request.Method} {request.Path.Value?.TrimStart('/')}."));
        try
        {
            await app.StartAsync(cancellation).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"cannot listen on the API socket '{socketPath}': {e.Message}", e);
        }
        return new ApiServer(app, socketPath);
    }

    /// <summary>Stops serving (requests in progress get a moment to finish) and removes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try
            {
                await _app.StopAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        File.Delete(SocketPath);
    }

    // A bug in a handler is Firecracker's 500 with a fault body, never a dropped connection or a stack trace.
    private static async Task Contain(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the API must answer whatever a handler did
        catch (Exception e) when (!context.Response.HasStarted && e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            await ApiResults.Fault($"Internal error: {e.Message}", StatusCodes.Status500InternalServerError).ExecuteAsync(context).ConfigureAwait(false);
        }
    }
}

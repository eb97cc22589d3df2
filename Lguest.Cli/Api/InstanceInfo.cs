namespace Lguest.Cli.Api;

/// <summary>GET / (Firecracker's InstanceInfo).</summary>
/// <param name="AppName">"lguest".</param>
/// <param name="Id">The instance id (Firecracker's default, "anonymous-instance").</param>
/// <param name="State">"Not started", "Running", "Paused" (or "Stopped" in the moment before lguest exits).</param>
/// <param name="VmmVersion">lguest's version.</param>
internal sealed record InstanceInfo(string AppName, string Id, string State, string VmmVersion);

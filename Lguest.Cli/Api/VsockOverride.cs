namespace Lguest.Cli.Api;

/// <summary>Firecracker's VsockOverride, in a snapshot load: another Unix socket for the vsock device.</summary>
/// <param name="UdsPath">The socket's path.</param>
internal sealed record VsockOverride(string UdsPath);

namespace Lguest.Cli.Api;

/// <summary>Firecracker's NetworkOverride, in a snapshot load: another tap for a network interface.</summary>
/// <param name="IfaceId">The interface, as configured by PUT /network-interfaces.</param>
/// <param name="HostDevName">The tap it gets instead.</param>
internal sealed record NetworkOverride(string IfaceId, string HostDevName);

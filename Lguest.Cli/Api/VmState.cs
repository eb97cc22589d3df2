namespace Lguest.Cli.Api;

/// <summary>PATCH /vm (Firecracker's Vm): pause or resume the running guest.</summary>
/// <param name="State">"Paused" or "Resumed".</param>
internal sealed record VmState(string State)
{
    public const string Paused = "Paused", Resumed = "Resumed";
}

namespace Lguest.Cli.Api;

/// <summary>PUT /actions (Firecracker's InstanceActionInfo).</summary>
/// <param name="ActionType">"InstanceStart" (pre-boot), "SendCtrlAltDel" (post-boot) or "FlushMetrics".</param>
internal sealed record InstanceActionInfo(string ActionType)
{
    public const string InstanceStart = "InstanceStart", SendCtrlAltDel = "SendCtrlAltDel", FlushMetrics = "FlushMetrics";
}

namespace Lguest.Machine;

/// <summary>A boot's vCPUs started running the guest.</summary>
/// <param name="boot">Which boot: 1 for the first, 2 after the first reboot, and so on.</param>
public sealed class GuestBootedEventArgs(int boot) : EventArgs
{
    /// <summary>Which boot: 1 for the first, 2 after the first reboot, and so on.</summary>
    public int Boot { get; } = boot;
}

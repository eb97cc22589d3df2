namespace Lguest.Cli;

/// <summary>
/// The kernel console lguest adds when the kernel arguments name none: <c>console=ttyS0</c>, COM1 on this
/// terminal, on a machine that has one (the PC that KVM runs). kvmtool does the same. Without it a first run
/// (<c>lguest 256 vmlinuz</c>) shows nothing at all: a kernel with no <c>console=</c> writes to tty0, which a
/// PC without a display never shows, and the Debian kernels build virtio_console as a module, so hvc0 cannot
/// be the boot console either.
/// </summary>
internal static class KernelConsoleDefault
{
    /// <summary>The argument added.</summary>
    public const string SerialConsole = "console=ttyS0";

    /// <summary>
    /// The arguments with <see cref="SerialConsole"/> first when the machine has a serial console and no kernel
    /// argument (before a <c>--</c>, after which they are init's) names a console; else null.
    /// </summary>
    public static RunArguments? TryAdd(RunArguments arguments, bool machineHasSerialConsole)
    {
        if (!machineHasSerialConsole)
            return null;
        foreach (string argument in arguments.KernelArguments)
        {
            if (argument == "--")
                break;
            // One word may hold several when a caller quoted them together ("console=hvc0 quiet").
            if (argument.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(word => word.StartsWith("console=", StringComparison.Ordinal)))
                return null;
        }
        // First, so that a "--" among the arguments still hands init only what followed it.
        return arguments with { KernelArguments = [SerialConsole, .. arguments.KernelArguments] };
    }
}

using Lguest.Hypervisor;

namespace Lguest.Platform;

/// <summary>
/// Just enough of the 8042 keyboard controller for its reset line: command 0xFE on port 0x64 pulses
/// the CPU reset (Linux's reboot=kbd, and its fallback after ACPI). Data and status read as "nothing
/// pending", so a driver that probes finds an idle controller. Register at <see cref="DataPort"/>, 5 ports.
/// </summary>
public sealed class I8042Controller(IPowerControl power) : IIoDevice
{
    /// <summary>The data port; the command/status port is <see cref="CommandPort"/>.</summary>
    public const ushort DataPort = 0x60;

    /// <summary>The command (write) and status (read) port.</summary>
    public const ushort CommandPort = 0x64;

    /// <summary>The span of ports from <see cref="DataPort"/> through <see cref="CommandPort"/>.</summary>
    public const int PortCount = 5;

    /// <summary>"Pulse output port bit 0", the CPU reset line.</summary>
    public const byte CommandPulseReset = 0xFE;

    /// <inheritdoc />
    public void Read(ulong offset, Span<byte> data) => data.Clear(); // status 0: output buffer empty, input buffer empty

    /// <inheritdoc />
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset == CommandPort - DataPort && data.Length > 0 && data[0] == CommandPulseReset)
            power.RequestReset();
    }
}

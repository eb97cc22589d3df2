using Lguest.Hypervisor;

namespace Lguest.Platform;

/// <summary>
/// The ACPI PM1a fixed registers (ACPI 6.5 §4.8.3), where QEMU's PIIX4 puts them: the event block
/// (status and enable, 16 bits each) at 0x600 and the control block at 0x604. Writing SLP_EN with
/// SLP_TYP 0, the S5 type the DSDT's \_S5 package names, powers the machine off. SCI_EN always reads
/// set: the machine is in ACPI mode from the start, and the FADT has no SMI command port.
/// </summary>
/// <remarks>
/// The fixed-feature power button (ACPI 6.5 §4.8.2.2.1.1): <see cref="PressPowerButton"/> sets PWRBTN_STS, and
/// while the OS has PWRBTN_EN set the SCI is raised (level, until the OS clears the status). Linux's ACPI button
/// driver turns it into KEY_POWER, which systemd-logind or acpid answer with an orderly power-off.
/// </remarks>
/// <param name="power">Where S5 goes.</param>
/// <param name="sci">The SCI line (<see cref="AcpiTables.SciInterrupt"/>); null for a machine without one (no power button events).</param>
public sealed class AcpiPmRegisters(IPowerControl power, IInterruptLine? sci = null) : IIoDevice
{
    /// <summary>PM1a_EVT_BLK.</summary>
    public const ushort EventBlockPort = 0x600;

    /// <summary>PM1a_CNT_BLK.</summary>
    public const ushort ControlBlockPort = 0x604;

    /// <summary>PM1_EVT_LEN: status and enable, 2 bytes each.</summary>
    public const int EventBlockLength = 4;

    /// <summary>PM1_CNT_LEN.</summary>
    public const int ControlBlockLength = 2;

    /// <summary>The ports from the event block through the control block.</summary>
    public const int PortCount = 6;

    /// <summary>The SLP_TYP value of S5 (soft off) in the DSDT's \_S5 package.</summary>
    public const int SleepTypeS5 = 0;

    private const ushort SciEn = 1 << 0;        // PM1_CNT.SCI_EN
    private const ushort SlpEn = 1 << 13;       // PM1_CNT.SLP_EN
    private const int SlpTypShift = 10;         // PM1_CNT.SLP_TYP, bits 12:10
    private const ushort WakeStatus = 1 << 15;  // PM1_STS.WAK_STS
    private const ushort PowerButton = 1 << 8;  // PM1_STS.PWRBTN_STS and PM1_EN.PWRBTN_EN

    private readonly Lock _lock = new();
    private ushort _status, _enable, _control = SciEn;

    /// <summary>
    /// Presses the power button: PWRBTN_STS is set and, if the OS enabled the event, the SCI raised. Returns whether
    /// the OS listens (PWRBTN_EN set): false means the guest has no ACPI button driver (yet), and nothing happens
    /// until it enables the event.
    /// </summary>
    public bool PressPowerButton()
    {
        bool enabled;
        lock (_lock)
        {
            _status |= PowerButton;
            enabled = (_enable & PowerButton) != 0;
            UpdateSciLocked();
        }
        return enabled;
    }

    /// <inheritdoc />
    public void Read(ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            for (int i = 0; i < data.Length; i++)
                data[i] = ByteAt(offset + (ulong)i);
        }
    }

    /// <inheritdoc />
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        bool powerOff = false;
        lock (_lock)
        {
            for (int i = 0; i < data.Length; i++)
            {
                ulong at = offset + (ulong)i;
                byte value = data[i];
                switch (at)
                {
                    case 0 or 1:
                        // Status bits are write-1-to-clear.
                        _status &= (ushort)~(value << (int)(8 * at));
                        break;
                    case 2 or 3:
                        _enable = (ushort)((_enable & ~(0xFF << (int)(8 * (at - 2)))) | (value << (int)(8 * (at - 2))));
                        break;
                    case 4 or 5:
                        _control = (ushort)((_control & ~(0xFF << (int)(8 * (at - 4)))) | (value << (int)(8 * (at - 4))));
                        break;
                }
            }
            if ((_control & SlpEn) != 0)
            {
                // SLP_EN is write-only: it reads as 0 and triggers the sleep once.
                int type = (_control >> SlpTypShift) & 7;
                _control = (ushort)((_control & ~SlpEn) | SciEn);
                if (type == SleepTypeS5)
                    powerOff = true;
                else
                    _status |= WakeStatus; // another sleep state: wake at once, as if resumed
            }
            _control |= SciEn;
            UpdateSciLocked();
        }
        if (powerOff)
            power.RequestPowerOff();
    }

    /// <summary>The registers, for a snapshot.</summary>
    public AcpiPmState CaptureState()
    {
        lock (_lock)
            return new AcpiPmState(_status, _enable, _control);
    }

    /// <summary>Takes the registers of <paramref name="state"/> (SCI_EN stays set, SLP_EN clear: no sleep is entered).</summary>
    public void RestoreState(AcpiPmState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            (_status, _enable, _control) = (state.Status, state.Enable, (ushort)((state.Control | SciEn) & ~SlpEn));
            UpdateSciLocked();
        }
    }

    // The SCI is level-triggered (the MADT's override): high while an enabled event's status bit is set.
    private void UpdateSciLocked()
    {
        if (sci is null)
            return;
        if ((_status & _enable & PowerButton) != 0)
            sci.Assert();
        else
            sci.Deassert();
    }

    private byte ByteAt(ulong at) => at switch
    {
        0 => (byte)_status,
        1 => (byte)(_status >> 8),
        2 => (byte)_enable,
        3 => (byte)(_enable >> 8),
        4 => (byte)_control,
        5 => (byte)(_control >> 8),
        _ => 0xFF,
    };
}

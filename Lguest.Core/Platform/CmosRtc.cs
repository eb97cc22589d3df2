using Lguest.Hypervisor;

namespace Lguest.Platform;

/// <summary>
/// The MC146818 real-time clock and its CMOS RAM at ports 0x70 (index) and 0x71 (data): the current
/// time (UTC, BCD, 24-hour, as status register B says), status registers that show no update in
/// progress, and the memory-size bytes a PC BIOS leaves (as QEMU fills them). Writes to the clock
/// are accepted and forgotten: the guest's clock cannot move the host's.
/// </summary>
public sealed class CmosRtc : IIoDevice
{
    /// <summary>The index port; the data port follows it.</summary>
    public const ushort IndexPort = 0x70;

    /// <summary>Index and data.</summary>
    public const int PortCount = 2;

    /// <summary>The CMOS byte holding the century, as the FADT's CENTURY field names it.</summary>
    public const byte CenturyRegister = 0x32;

    /// <summary>The bytes of CMOS RAM (the MC146818's 128, clock registers included).</summary>
    public const int RamSize = 128;

    private const int Size = RamSize;
    private const byte Seconds = 0x00, Minutes = 0x02, Hours = 0x04, Weekday = 0x06, Day = 0x07, Month = 0x08, Year = 0x09;
    private const byte StatusA = 0x0A, StatusB = 0x0B, StatusC = 0x0C, StatusD = 0x0D;
    private const byte StatusB24Hour = 0x02, StatusBBinary = 0x04;

    private readonly Lock _lock = new();
    private readonly byte[] _cmos = new byte[Size];
    private readonly TimeProvider _time;
    private byte _index;

    /// <summary>Creates the clock for a guest with <paramref name="ramBelow4G"/> and <paramref name="ramAbove4G"/> bytes of RAM.</summary>
    public CmosRtc(ulong ramBelow4G, ulong ramAbove4G, int cpuCount, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _cmos[StatusA] = 0x26;                 // 32.768 kHz time base, 1024 Hz periodic rate; UIP clear
        _cmos[StatusB] = StatusB24Hour;        // 24-hour, BCD, no interrupts
        _cmos[StatusD] = 0x80;                 // VRT: the battery is good
        _cmos[0x14] = 0x02;                    // equipment byte: a maths coprocessor
        SetWord(0x15, 640);                    // base memory in KiB
        ulong extendedKiB = Math.Min(ramBelow4G > 1 << 20 ? (ramBelow4G - (1 << 20)) / 1024 : 0, 0xFFFF);
        SetWord(0x17, (ushort)extendedKiB);    // extended memory above 1 MiB in KiB
        SetWord(0x30, (ushort)extendedKiB);
        ulong above16M = Math.Min(ramBelow4G > 16 << 20 ? (ramBelow4G - (16 << 20)) / 65536 : 0, 0xFFFF);
        SetWord(0x34, (ushort)above16M);       // memory above 16 MiB in 64 KiB units
        ulong above4G = Math.Min(ramAbove4G / 65536, 0xFF_FFFF);
        _cmos[0x5B] = (byte)above4G;           // memory above 4 GiB in 64 KiB units, 24 bits
        _cmos[0x5C] = (byte)(above4G >> 8);
        _cmos[0x5D] = (byte)(above4G >> 16);
        _cmos[0x5F] = (byte)Math.Clamp(cpuCount - 1, 0, 255);
    }

    /// <inheritdoc />
    public void Read(ulong offset, Span<byte> data)
    {
        if (data.IsEmpty)
            return;
        data.Fill(0xFF);
        lock (_lock)
            data[0] = offset == 0 ? (byte)0xFF : ReadData(_index);
    }

    /// <inheritdoc />
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            return;
        lock (_lock)
        {
            if (offset == 0)
            {
                _index = (byte)(data[0] & 0x7F); // bit 7 is the NMI mask, not part of the index
                return;
            }
            byte index = _index;
            switch (index)
            {
                case <= Year or CenturyRegister:
                    break; // the clock follows the host; setting it is a no-op
                case StatusA:
                    _cmos[StatusA] = (byte)(data[0] & 0x7F); // UIP is read-only
                    break;
                case StatusC or StatusD:
                    break; // read-only
                default:
                    _cmos[index] = data[0];
                    break;
            }
        }
    }

    /// <summary>The CMOS RAM and the selected index, for a snapshot.</summary>
    public CmosRtcState CaptureState()
    {
        lock (_lock)
            return new CmosRtcState(_index, _cmos.ToArray());
    }

    /// <summary>Takes the CMOS RAM and index of <paramref name="state"/>.</summary>
    public void RestoreState(CmosRtcState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Ram.Length != Size || state.Index >= Size)
            throw new ArgumentException($"index {state.Index} or {state.Ram.Length} bytes of CMOS RAM (a CMOS has {Size})", nameof(state));
        lock (_lock)
        {
            state.Ram.Span.CopyTo(_cmos);
            _index = state.Index;
        }
    }

    private byte ReadData(byte index)
    {
        if (index is > Year and not CenturyRegister)
            return index == StatusC ? (byte)0 : _cmos[index];
        DateTime now = _time.GetUtcNow().UtcDateTime;
        int value = index switch
        {
            Seconds => now.Second,
            Minutes => now.Minute,
            Hours => now.Hour,
            Weekday => (int)now.DayOfWeek + 1,
            Day => now.Day,
            Month => now.Month,
            Year => now.Year % 100,
            CenturyRegister => now.Year / 100,
            _ => 0, // the alarm registers: no alarm set
        };
        byte b = _cmos[StatusB];
        bool pm = false;
        if (index == Hours && (b & StatusB24Hour) == 0)
        {
            pm = value >= 12;
            value = value % 12 == 0 ? 12 : value % 12;
        }
        byte encoded = (b & StatusBBinary) != 0 ? (byte)value : (byte)(((value / 10) << 4) | (value % 10));
        return pm ? (byte)(encoded | 0x80) : encoded;
    }

    private void SetWord(int index, ushort value)
    {
        _cmos[index] = (byte)value;
        _cmos[index + 1] = (byte)(value >> 8);
    }
}

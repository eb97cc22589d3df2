using System.Buffers.Binary;
using Lguest.Hypervisor;

namespace Lguest.Pci;

/// <summary>
/// A function's MSI-X (PCI Local Bus 3.0 §6.8.2): the capability in configuration space (message control
/// with table size, function mask and enable; table and PBA locations), the vector table (16-byte entries:
/// message address low/high, message data, vector control) and the pending bit array, both inside one of
/// the device's memory BARs. Each vector sends its message through an <see cref="IMsiRoute"/> of the backend.
/// </summary>
/// <remarks>
/// <para>The owning device adds the capability from its constructor, forwards configuration writes that touch
/// it to <see cref="OnConfigurationWritten"/>, and the BAR accesses at the table and PBA to the read and write
/// methods here, which return false on an access software must not make (§6.8.2: aligned dwords or qwords
/// only; the PBA is read-only) so the device reports the misuse its own way.</para>
/// <para>A vector is masked when MSI-X is enabled but the function mask or the vector's mask bit is set;
/// a message it would send then sets its pending bit instead, and goes when the vector is unmasked. The
/// backend route is reprogrammed only when the guest has changed a message and the vector is unmasked
/// (software changes a message only while masked), never per interrupt. Thread-safe: the guest's accesses
/// come from vCPUs, <see cref="TrySignal"/> from device workers.</para>
/// </remarks>
public sealed class MsixCapability : IDisposable
{
    /// <summary>PCI_CAP_ID_MSIX.</summary>
    public const byte CapabilityId = 0x11;

    /// <summary>The capability's size: ID, next, message control, table offset/BIR, PBA offset/BIR.</summary>
    public const int CapabilityLength = 12;

    /// <summary>PCI_MSIX_FLAGS: message control, 16 bits at capability + 2.</summary>
    public const int MessageControl = 2;

    /// <summary>PCI_MSIX_TABLE: table offset (bits 31:3) and BIR (bits 2:0) at capability + 4.</summary>
    public const int TableRegister = 4;

    /// <summary>PCI_MSIX_PBA: PBA offset and BIR at capability + 8.</summary>
    public const int PbaRegister = 8;

    /// <summary>PCI_MSIX_FLAGS_QSIZE: message control bits 10:0, the table size minus one.</summary>
    public const ushort ControlTableSize = 0x07ff;

    /// <summary>PCI_MSIX_FLAGS_MASKALL: message control bit 14, the function mask.</summary>
    public const ushort ControlFunctionMask = 0x4000;

    /// <summary>PCI_MSIX_FLAGS_ENABLE: message control bit 15.</summary>
    public const ushort ControlEnable = 0x8000;

    /// <summary>PCI_MSIX_ENTRY_SIZE: one table entry.</summary>
    public const int EntrySize = 16;

    /// <summary>PCI_MSIX_ENTRY_LOWER_ADDR.</summary>
    public const int EntryAddressLow = 0;

    /// <summary>PCI_MSIX_ENTRY_UPPER_ADDR.</summary>
    public const int EntryAddressHigh = 4;

    /// <summary>PCI_MSIX_ENTRY_DATA.</summary>
    public const int EntryData = 8;

    /// <summary>PCI_MSIX_ENTRY_VECTOR_CTRL.</summary>
    public const int EntryVectorControl = 12;

    /// <summary>PCI_MSIX_ENTRY_CTRL_MASKBIT: vector control bit 0; the other bits are reserved (read 0).</summary>
    public const uint VectorControlMask = 1;

    /// <summary>The most vectors a table may have (an 11-bit table size).</summary>
    public const int MaxVectors = 2048;

    private readonly Lock _lock = new();
    private readonly PciConfigurationSpace _configuration;
    private readonly IMsiRoute[] _routes;
    private readonly Entry[] _entries;
    private readonly ulong[] _pending;
    private ushort _control;
    private volatile bool _enabled;
    private bool _disposed;

    /// <summary>
    /// Appends the MSI-X capability to <paramref name="configuration"/>'s list, with one vector per route,
    /// the table at <paramref name="tableOffset"/> and the PBA at <paramref name="pbaOffset"/> of BAR
    /// <paramref name="barIndex"/>. Every vector starts masked, MSI-X disabled. Takes ownership of the routes.
    /// </summary>
    /// <exception cref="ArgumentException">No routes or more than <see cref="MaxVectors"/>, a BAR index past 5, or an offset not qword-aligned.</exception>
    public MsixCapability(PciConfigurationSpace configuration, int barIndex, uint tableOffset, uint pbaOffset, IReadOnlyList<IMsiRoute> routes)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(routes);
        if (routes.Count is 0 or > MaxVectors)
            throw new ArgumentException($"{routes.Count} vectors: an MSI-X table has 1 to {MaxVectors}", nameof(routes));
        if (barIndex is < 0 or >= PciHeader.BarCount)
            throw new ArgumentOutOfRangeException(nameof(barIndex), barIndex, "no such BAR");
        if ((tableOffset & 7) != 0 || (pbaOffset & 7) != 0)
            throw new ArgumentException("the table and the PBA are qword-aligned (the BIR takes bits 2:0)");

        _configuration = configuration;
        _routes = [.. routes];
        _entries = new Entry[_routes.Length];
        for (int i = 0; i < _entries.Length; i++)
            _entries[i].VectorControl = VectorControlMask;
        _pending = new ulong[(_routes.Length + 63) / 64];

        Offset = configuration.AddCapability(CapabilityId, CapabilityLength);
        configuration.SetUInt16(Offset + MessageControl, (ushort)(_routes.Length - 1));
        configuration.SetUInt32(Offset + TableRegister, tableOffset | (uint)barIndex);
        configuration.SetUInt32(Offset + PbaRegister, pbaOffset | (uint)barIndex);
        // Only the enable and function-mask bits are software's (the high byte of message control).
        configuration.SetWriteMask(Offset + MessageControl + 1, 1, (ControlEnable | ControlFunctionMask) >> 8);
    }

    /// <summary>The capability's offset in configuration space.</summary>
    public int Offset { get; }

    /// <summary>The number of vectors (the table size).</summary>
    public int VectorCount => _routes.Length;

    /// <summary>The size of the table in bytes.</summary>
    public int TableSize => _routes.Length * EntrySize;

    /// <summary>The size of the PBA in bytes: one bit per vector, in qwords.</summary>
    public int PbaSize => _pending.Length * 8;

    /// <summary>Whether software has enabled MSI-X (message control bit 15): the function then sends no INTx#.</summary>
    public bool Enabled => _enabled;

    /// <summary>Whether configuration bytes [<paramref name="offset"/>, +<paramref name="length"/>) touch message control.</summary>
    public bool Touches(int offset, int length) => offset < Offset + MessageControl + 2 && offset + length > Offset + MessageControl;

    /// <summary>
    /// Takes a configuration write into account (call after the write landed, when <see cref="Touches"/>):
    /// enabling, disabling, masking or unmasking the function. Pending messages of vectors now unmasked go.
    /// Returns whether <see cref="Enabled"/> changed.
    /// </summary>
    public bool OnConfigurationWritten()
    {
        ushort control = (ushort)(_configuration.ReadUInt16(Offset + MessageControl) & (ControlEnable | ControlFunctionMask));
        lock (_lock)
        {
            bool wasEnabled = _enabled;
            _control = control;
            _enabled = (control & ControlEnable) != 0;
            DeliverUnmaskedLocked();
            return wasEnabled != _enabled;
        }
    }

    /// <summary>
    /// Sends vector <paramref name="vector"/>'s message, or sets its pending bit while it is masked. Returns
    /// false, doing nothing, when MSI-X is disabled (the caller falls back to INTx#); a vector past the table
    /// (NO_VECTOR) with MSI-X enabled sends nothing and returns true. Safe from any thread.
    /// </summary>
    public bool TrySignal(int vector)
    {
        lock (_lock)
        {
            if (!_enabled || _disposed)
                return _enabled;
            if ((uint)vector >= (uint)_entries.Length)
                return true;
            if (IsMaskedLocked(vector))
                _pending[vector >> 6] |= 1UL << (vector & 63);
            else
                SendLocked(vector);
            return true;
        }
    }

    /// <summary>Whether vector <paramref name="vector"/>'s pending bit is set.</summary>
    public bool IsPending(int vector)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vector);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vector, _entries.Length);
        lock (_lock)
            return (_pending[vector >> 6] & (1UL << (vector & 63))) != 0;
    }

    /// <summary>Drops every pending message (the device was reset: what it had to say is void).</summary>
    public void ClearPending()
    {
        lock (_lock)
            Array.Clear(_pending);
    }

    /// <summary>
    /// A read of the table at <paramref name="offset"/> (from the table's start): an aligned dword or qword.
    /// Returns false, with <paramref name="data"/> zeroed, for any other access.
    /// </summary>
    public bool ReadTable(int offset, Span<byte> data)
    {
        data.Clear();
        if (!IsTableAccess(offset, data.Length))
            return false;
        lock (_lock)
        {
            for (int done = 0; done < data.Length; done += 4)
                BinaryPrimitives.WriteUInt32LittleEndian(data[done..], ReadDwordLocked(offset + done));
        }
        return true;
    }

    /// <summary>
    /// A write of the table at <paramref name="offset"/>: an aligned dword or qword. Returns false, ignoring
    /// it, for any other access.
    /// </summary>
    public bool WriteTable(int offset, ReadOnlySpan<byte> data)
    {
        if (!IsTableAccess(offset, data.Length))
            return false;
        lock (_lock)
        {
            for (int done = 0; done < data.Length; done += 4)
                WriteDwordLocked(offset + done, BinaryPrimitives.ReadUInt32LittleEndian(data[done..]));
        }
        return true;
    }

    /// <summary>
    /// A read of the PBA at <paramref name="offset"/>: an aligned dword or qword. Returns false, with
    /// <paramref name="data"/> zeroed, for any other access. (Writes to the PBA are always misuse: it is read-only.)
    /// </summary>
    public bool ReadPendingBits(int offset, Span<byte> data)
    {
        data.Clear();
        int width = data.Length;
        if (width is not (4 or 8) || offset < 0 || offset % width != 0 || offset > PbaSize - width)
            return false;
        lock (_lock)
        {
            ulong qword = _pending[offset >> 3];
            if (width == 8)
                BinaryPrimitives.WriteUInt64LittleEndian(data, qword);
            else
                BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)(qword >> (8 * (offset & 4))));
        }
        return true;
    }

    /// <summary>The vector table and pending bits, for a snapshot.</summary>
    public MsixState CaptureState()
    {
        lock (_lock)
            return new MsixState([.. _entries.Select(e => new MsixEntryState(e.Address, e.Data, e.VectorControl))], [.. _pending]);
    }

    /// <summary>
    /// Takes a snapshot's vector table and pending bits, after configuration space (whose message control says whether
    /// MSI-X is on and the function masked): the routes of unmasked vectors are programmed at once, pending messages of
    /// unmasked vectors sent; masked ones wait for the guest to unmask them, as before the snapshot.
    /// </summary>
    /// <exception cref="Snapshot.SnapshotException">The table has another size (another device).</exception>
    public void RestoreState(MsixState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Entries.Count != _entries.Length || state.Pending.Count != _pending.Length)
            throw new Snapshot.SnapshotException(Snapshot.SnapshotRefusal.Incompatible,
                $"the snapshot's MSI-X table has {state.Entries.Count} vectors; this device's has {_entries.Length}");
        lock (_lock)
        {
            for (int i = 0; i < _entries.Length; i++)
            {
                MsixEntryState e = state.Entries[i];
                // As a guest's writes would leave them: the address dword-aligned, only the mask bit in vector control.
                _entries[i] = new Entry { Address = e.Address & ~3UL, Data = e.Data, VectorControl = e.VectorControl & VectorControlMask, Changed = true };
            }
            for (int i = 0; i < _pending.Length; i++)
                _pending[i] = state.Pending[i] & (i == _pending.Length - 1 && _entries.Length % 64 != 0 ? (1UL << (_entries.Length % 64)) - 1 : ulong.MaxValue);
        }
        OnConfigurationWritten();
    }

    /// <summary>Releases the routes.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (IMsiRoute route in _routes)
                route.Dispose();
        }
    }

    private bool IsTableAccess(int offset, int width) =>
        width is 4 or 8 && offset >= 0 && offset % width == 0 && offset <= TableSize - width;

    private uint ReadDwordLocked(int offset)
    {
        ref Entry e = ref _entries[offset / EntrySize];
        return (offset % EntrySize) switch
        {
            EntryAddressLow => (uint)e.Address,
            EntryAddressHigh => (uint)(e.Address >> 32),
            EntryData => e.Data,
            _ => e.VectorControl,
        };
    }

    private void WriteDwordLocked(int offset, uint value)
    {
        int vector = offset / EntrySize;
        ref Entry e = ref _entries[vector];
        switch (offset % EntrySize)
        {
            case EntryAddressLow:
                // The message address is dword-aligned: bits 1:0 are read-only 0.
                e.Address = (e.Address & 0xffff_ffff_0000_0000) | (value & ~3u);
                e.Changed = true;
                break;
            case EntryAddressHigh:
                e.Address = (e.Address & 0xffff_ffff) | ((ulong)value << 32);
                e.Changed = true;
                break;
            case EntryData:
                e.Data = value;
                e.Changed = true;
                break;
            default:
                e.VectorControl = value & VectorControlMask;
                break;
        }
        // Software changes a message while the vector is masked; one changed while unmasked (undefined
        // behaviour, §6.8.2.9) takes effect at once. Unmasking sends what is pending.
        if (!IsMaskedLocked(vector))
        {
            CommitLocked(vector);
            if (TakePendingLocked(vector))
                SendLocked(vector);
        }
    }

    private bool IsMaskedLocked(int vector) =>
        (_control & ControlFunctionMask) != 0 || (_entries[vector].VectorControl & VectorControlMask) != 0;

    private void DeliverUnmaskedLocked()
    {
        if (!_enabled || (_control & ControlFunctionMask) != 0)
            return;
        for (int vector = 0; vector < _entries.Length; vector++)
        {
            if (IsMaskedLocked(vector))
                continue;
            CommitLocked(vector);
            if (TakePendingLocked(vector))
                SendLocked(vector);
        }
    }

    private bool TakePendingLocked(int vector)
    {
        ulong bit = 1UL << (vector & 63);
        ref ulong word = ref _pending[vector >> 6];
        if ((word & bit) == 0)
            return false;
        word &= ~bit;
        return true;
    }

    private void CommitLocked(int vector)
    {
        ref Entry e = ref _entries[vector];
        if (!e.Changed || _disposed)
            return;
        e.Changed = false;
        _routes[vector].Update(e.Address, e.Data);
    }

    private void SendLocked(int vector)
    {
        CommitLocked(vector);
        _routes[vector].Signal();
    }

    // One table entry as software programmed it; Changed: the route has not seen the message yet.
    private struct Entry
    {
        public ulong Address;
        public uint Data;
        public uint VectorControl;
        public bool Changed;
    }
}

using System.Diagnostics.CodeAnalysis;

namespace Lguest.Hypervisor;

/// <summary>
/// An address space of devices: the port I/O space or the MMIO space. Both backends feed guest
/// accesses here (KVM from its exits, /dev/lguest from the instructions it emulates), so every
/// device above the seam is reached the same way. Lookups are lock-free; registration (rare: at
/// start and when the guest moves a PCI BAR) swaps in a new sorted table.
/// </summary>
public sealed class IoBus
{
    private readonly Lock _writeLock = new();
    private Entry[] _entries = [];

    /// <summary>Creates an empty bus.</summary>
    /// <param name="name">"pio" or "mmio", for messages.</param>
    public IoBus(string name) => Name = name;

    /// <summary>The bus's name, for messages.</summary>
    public string Name { get; }

    /// <summary>Maps [<paramref name="start"/>, +<paramref name="length"/>) to <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">The range is empty, wraps, or overlaps a registered one.</exception>
    public void Register(ulong start, ulong length, IIoDevice device)
    {
        if (!TryRegister(start, length, device, out string? refusal))
            throw new ArgumentException(refusal, nameof(start));
    }

    /// <summary>
    /// Maps [<paramref name="start"/>, +<paramref name="length"/>) to <paramref name="device"/> unless the
    /// range is empty, wraps or overlaps a registered one; then returns false and says why. For ranges the
    /// guest chooses (a PCI BAR it moved), where a refusal is the guest's mistake, not the VMM's.
    /// </summary>
    public bool TryRegister(ulong start, ulong length, IIoDevice device, [NotNullWhen(false)] out string? refusal)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (length == 0 || start + length < start)
        {
            refusal = $"{Name} range 0x{start:x}+0x{length:x} is empty or wraps";
            return false;
        }
        lock (_writeLock)
        {
            foreach (Entry e in _entries)
            {
                if (start < e.Start + e.Length && e.Start < start + length)
                {
                    refusal = $"{Name} range 0x{start:x}+0x{length:x} overlaps 0x{e.Start:x}+0x{e.Length:x}";
                    return false;
                }
            }
            Entry[] next = [.. _entries, new Entry(start, length, device)];
            Array.Sort(next, static (a, b) => a.Start.CompareTo(b.Start));
            Volatile.Write(ref _entries, next);
        }
        refusal = null;
        return true;
    }

    /// <summary>Removes the range registered at <paramref name="start"/> for <paramref name="device"/>, if any.</summary>
    public bool Unregister(ulong start, IIoDevice device)
    {
        lock (_writeLock)
        {
            Entry[] current = _entries;
            Entry[] next = current.Where(e => !(e.Start == start && ReferenceEquals(e.Device, device))).ToArray();
            Volatile.Write(ref _entries, next);
            return next.Length != current.Length;
        }
    }

    /// <summary>
    /// Dispatches a guest read. Returns false when no device claims <paramref name="address"/>, or the
    /// access runs past the end of the device's range; the caller then acts as real hardware does
    /// for an unclaimed address (reads as all ones).
    /// </summary>
    public bool TryRead(ulong address, Span<byte> data)
    {
        if (!TryFind(address, (ulong)data.Length, out Entry? entry))
            return false;
        entry.Device.Read(address - entry.Start, data);
        return true;
    }

    /// <summary>Dispatches a guest write; false when no device claims the whole access.</summary>
    public bool TryWrite(ulong address, ReadOnlySpan<byte> data)
    {
        if (!TryFind(address, (ulong)data.Length, out Entry? entry))
            return false;
        entry.Device.Write(address - entry.Start, data);
        return true;
    }

    /// <summary>Reads, with unclaimed addresses reading as all ones as on a PC bus.</summary>
    public void Read(ulong address, Span<byte> data)
    {
        if (!TryRead(address, data))
            data.Fill(0xff);
    }

    /// <summary>Writes, with writes to unclaimed addresses dropped as on a PC bus.</summary>
    public void Write(ulong address, ReadOnlySpan<byte> data) => _ = TryWrite(address, data);

    private bool TryFind(ulong address, ulong length, [NotNullWhen(true)] out Entry? found)
    {
        Entry[] entries = Volatile.Read(ref _entries);
        int lo = 0, hi = entries.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            Entry e = entries[mid];
            if (address < e.Start)
                hi = mid - 1;
            else if (address - e.Start >= e.Length)
                lo = mid + 1;
            else
            {
                // The whole access must fall inside the device: a 4-byte read at its last byte is not its.
                found = length <= e.Length - (address - e.Start) ? e : null;
                return found is not null;
            }
        }
        found = null;
        return false;
    }

    private sealed record Entry(ulong Start, ulong Length, IIoDevice Device);
}

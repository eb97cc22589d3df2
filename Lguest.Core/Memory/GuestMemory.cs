using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lguest.Interop;

namespace Lguest.Memory;

/// <summary>
/// The guest's RAM: one anonymous private mapping in this process, addressed by guest-physical
/// address through a <see cref="GuestMemoryLayout"/>. Every access is bounds-checked, so nothing
/// the guest names can reach host memory outside the mapping; no raw pointer leaves this class
/// except to a backend that must hand the mapping to the kernel.
/// </summary>
/// <remarks>
/// The mapping has an inaccessible guard page on each side (as the lguest launcher had), so even a
/// bug in a bounds check here faults instead of reading a neighbour. It starts on a 2 MiB boundary
/// and asks for transparent huge pages, as QEMU's RAM does: filling it (a kernel, an initrd) or the
/// guest touching it then costs one fault per 2 MiB instead of one per 4 KiB page, and KVM can map
/// each aligned 2 MiB to the guest whole. Children of this process do not inherit it. Dispose only
/// after every device worker and vCPU using the memory has stopped.
/// </remarks>
public sealed unsafe partial class GuestMemory : IDisposable
{
    private const ulong GuardSize = GuestMemoryLayout.PageSize;

    /// <summary>Where RAM starts in the host's address space: a transparent huge page's size and alignment.</summary>
    private const ulong HugePageSize = 2UL << 20;

    private readonly GuestMemoryRegion[] _regions;
    private readonly byte*[] _regionBases;
    private readonly nint _reservation;
    private readonly nuint _reservationSize;
    private bool _disposed;

    private GuestMemory(GuestMemoryLayout layout, nint reservation, nuint reservationSize, nint ram)
    {
        Layout = layout;
        _reservation = reservation;
        _reservationSize = reservationSize;
        _regions = layout.Regions.ToArray();
        _regionBases = new byte*[_regions.Length];
        byte* next = (byte*)ram;
        for (int i = 0; i < _regions.Length; i++)
        {
            _regionBases[i] = next;
            next += _regions[i].Size;
        }
    }

    /// <summary>Where guest RAM lies and where devices may be placed.</summary>
    public GuestMemoryLayout Layout { get; }

    /// <summary>
    /// Maps zero-filled RAM for <paramref name="layout"/>. Pages are reserved lazily (MAP_NORESERVE):
    /// host memory is used only where the guest touches it.
    /// </summary>
    /// <exception cref="GuestMemoryException">The host refused the mapping (too large for its address space or overcommit policy).</exception>
    public static GuestMemory Allocate(GuestMemoryLayout layout) => Allocate(layout, reservationFlags: 0);

    /// <summary>
    /// Maps RAM as <see cref="Allocate(GuestMemoryLayout)"/> does, but inside the low 2 GiB of this process's
    /// address space (MAP_32BIT, x86-64): for a 64-bit process that must name the mapping in a 32-bit word, as
    /// the /dev/lguest backend's i386 ABI does (its tests run in a 64-bit process; a 32-bit launcher gets low
    /// addresses anyway).
    /// </summary>
    internal static GuestMemory AllocateBelow2GiB(GuestMemoryLayout layout) => Allocate(layout, Libc.Map32Bit);

    private static GuestMemory Allocate(GuestMemoryLayout layout, int reservationFlags)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ulong total = layout.TotalSize;
        (nint reservation, nuint reservationSize, nint start) = Reserve(total, reservationFlags);
        nint ram = Libc.Mmap(start, (nuint)total, Libc.ProtRead | Libc.ProtWrite,
            Libc.MapPrivate | Libc.MapAnonymous | Libc.MapNoReserve | Libc.MapFixed, -1, 0);
        if (ram == Libc.MapFailed)
        {
            int errno = Marshal.GetLastPInvokeError();
            _ = Libc.Munmap(reservation, reservationSize);
            throw MappingFailed(total, errno);
        }
        // Both are advice: a host without transparent huge pages refuses the first and RAM works as before;
        // without the second a fork would copy the guest's page tables and share its pages copy-on-write.
        _ = Libc.Madvise(ram, (nuint)total, Libc.MadvHugePage);
        _ = Libc.Madvise(ram, (nuint)total, Libc.MadvDontFork);
        return new GuestMemory(layout, reservation, reservationSize, ram);
    }

    /// <summary>
    /// Reserves an inaccessible range for <paramref name="total"/> bytes of RAM with a guard page on each side,
    /// and returns where RAM starts in it: the first 2 MiB boundary past the lower guard page. The guard pages
    /// (and the alignment slack) are the parts of the reservation RAM is never mapped over.
    /// </summary>
    private static (nint Reservation, nuint ReservationSize, nint Start) Reserve(ulong total, int reservationFlags)
    {
        if (total > (ulong)nint.MaxValue - 2 * GuardSize - HugePageSize)
            throw new GuestMemoryException($"guest RAM of {total} bytes does not fit this process's address space");
        var reservationSize = (nuint)(total + 2 * GuardSize + HugePageSize);
        nint reservation = Libc.Mmap(0, reservationSize, Libc.ProtNone,
            Libc.MapPrivate | Libc.MapAnonymous | Libc.MapNoReserve | reservationFlags, -1, 0);
        if (reservation == Libc.MapFailed)
            throw MappingFailed(total, Marshal.GetLastPInvokeError());
        var start = (nint)(((ulong)reservation + GuardSize + HugePageSize - 1) & ~(HugePageSize - 1));
        return (reservation, reservationSize, start);
    }

    /// <summary>
    /// A span over [<paramref name="address"/>, +<paramref name="length"/>) of guest RAM, which must lie
    /// inside one RAM region. A zero-length span is allowed anywhere inside or at the end of a region.
    /// </summary>
    /// <exception cref="GuestMemoryException">Any part of the range is outside guest RAM.</exception>
    public Span<byte> GetSpan(GuestAddress address, int length)
    {
        if (length < 0)
            throw new GuestMemoryException(address, unchecked((ulong)length), "negative length");
        byte* host = Translate(address, (ulong)length);
        // Safety: Translate proved [address, address + length) lies inside one region of the live mapping.
        return new Span<byte>(host, length);
    }

    /// <summary>Whether [<paramref name="address"/>, +<paramref name="length"/>) lies inside one RAM region.</summary>
    public bool IsValidRange(GuestAddress address, ulong length) => TryTranslate(address, length, out _);

    /// <summary>Reads an unmanaged value (unaligned allowed) at <paramref name="address"/>.</summary>
    public T Read<T>(GuestAddress address) where T : unmanaged =>
        Unsafe.ReadUnaligned<T>(Translate(address, (ulong)sizeof(T)));

    /// <summary>Writes an unmanaged value (unaligned allowed) at <paramref name="address"/>.</summary>
    public void Write<T>(GuestAddress address, in T value) where T : unmanaged =>
        Unsafe.WriteUnaligned(Translate(address, (ulong)sizeof(T)), value);

    /// <summary>Copies guest memory at <paramref name="address"/> into <paramref name="destination"/>.</summary>
    public void Read(GuestAddress address, Span<byte> destination) =>
        GetSpan(address, destination.Length).CopyTo(destination);

    /// <summary>Copies <paramref name="source"/> into guest memory at <paramref name="address"/>.</summary>
    public void Write(GuestAddress address, ReadOnlySpan<byte> source) =>
        source.CopyTo(GetSpan(address, source.Length));

    /// <summary>Zeroes [<paramref name="address"/>, +<paramref name="length"/>), which may exceed 2 GiB.</summary>
    public void Clear(GuestAddress address, ulong length)
    {
        byte* host = Translate(address, length);
        while (length > 0)
        {
            uint chunk = (uint)Math.Min(length, 1u << 30);
            // Safety: the whole range was translated above; each chunk lies inside it.
            new Span<byte>(host, (int)chunk).Clear();
            host += chunk;
            length -= chunk;
        }
    }

    /// <summary>
    /// Reads a 16-bit ring index with acquire semantics: reads of the ring entries it publishes
    /// cannot be reordered before it. The address must be 2-byte aligned so the load is atomic.
    /// </summary>
    public ushort ReadUInt16Acquire(GuestAddress address) =>
        Volatile.Read(ref Unsafe.AsRef<ushort>(TranslateAligned(address, sizeof(ushort))));

    /// <summary>
    /// Writes a 16-bit ring index with release semantics: the entries written before it are visible
    /// to the guest no later than the index. The address must be 2-byte aligned.
    /// </summary>
    public void WriteUInt16Release(GuestAddress address, ushort value) =>
        Volatile.Write(ref Unsafe.AsRef<ushort>(TranslateAligned(address, sizeof(ushort))), value);

    /// <summary>
    /// The host address where <paramref name="region"/> is mapped, for a backend that registers the
    /// mapping with the kernel (KVM memory slots). Nothing else may hold a raw pointer into guest memory.
    /// </summary>
    internal nint HostAddressOf(GuestMemoryRegion region)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int index = Array.IndexOf(_regions, region);
        if (index < 0)
            throw new ArgumentException($"{region} is not a region of this guest memory", nameof(region));
        return (nint)_regionBases[index];
    }

    /// <summary>Unmaps guest RAM. Every vCPU and device must have stopped using it.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _ = Libc.Munmap(_reservation, _reservationSize);
        _image?.Dispose();
    }

    private byte* Translate(GuestAddress address, ulong length)
    {
        if (!TryTranslate(address, length, out byte* host))
            ThrowOutside(address, length);
        return host;
    }

    private byte* TranslateAligned(GuestAddress address, int size)
    {
        if (!address.IsAligned((ulong)size))
            ThrowMisaligned(address, size);
        return Translate(address, (ulong)size);
    }

    private bool TryTranslate(GuestAddress address, ulong length, out byte* host)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        GuestMemoryRegion[] regions = _regions;
        for (int i = 0; i < regions.Length; i++)
        {
            ulong start = regions[i].Start.Value;
            ulong size = regions[i].Size;
            // Compare without computing address + length: the sum can wrap past 2^64.
            if (address.Value >= start && address.Value - start <= size && length <= size - (address.Value - start))
            {
                host = _regionBases[i] + (address.Value - start);
                return true;
            }
        }
        host = null;
        return false;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowOutside(GuestAddress address, ulong length) =>
        throw new GuestMemoryException(address, length);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowMisaligned(GuestAddress address, int size) =>
        throw new GuestMemoryException(address, (ulong)size, $"not aligned to {size} bytes");

    private static GuestMemoryException MappingFailed(ulong total, int errno) =>
        new($"cannot map {total / (1024 * 1024)} MiB of guest RAM: {Marshal.GetPInvokeErrorMessage(errno)}");
}

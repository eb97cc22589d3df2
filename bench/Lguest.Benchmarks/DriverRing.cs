using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Benchmarks;

/// <summary>
/// A split virtqueue as the benchmarks' drivers lay it out from one guest address: the descriptor table, the
/// available ring right after it, the used ring at the next 4-byte boundary (virtio 1.2 §2.7); and the driver's
/// side of it: publishing descriptors, reading the used index.
/// </summary>
internal static class DriverRing
{
    /// <summary>The available ring of the queue at <paramref name="ring"/>.</summary>
    public static GuestAddress Available(GuestAddress ring, int size) => ring.Offset(16UL * (ulong)size);

    /// <summary>The used ring of the queue at <paramref name="ring"/>.</summary>
    public static GuestAddress Used(GuestAddress ring, int size) => new((ring.Value + 16UL * (ulong)size + 6 + 2UL * (ulong)size + 3) & ~3UL);

    /// <summary>The device's view of the queue.</summary>
    public static Vring Open(GuestMemory memory, GuestAddress ring, string name, int size, ulong features) =>
        new(memory, name, size, new VringAddresses(ring, Available(ring, size), Used(ring, size)), features);

    /// <summary>
    /// Publishes descriptors <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1
    /// (each a chain of its own), with used_event at the last one: one interrupt when all are used.
    /// </summary>
    public static void Publish(GuestMemory memory, GuestAddress ring, int size, ref ushort avail, int first, int count)
    {
        GuestAddress available = Available(ring, size);
        for (int i = 0; i < count; i++)
        {
            memory.Write(available.Offset(4 + 2UL * (ulong)(avail % size)), (ushort)(first + i));
            avail++;
        }
        memory.Write(available.Offset(4 + 2UL * (ulong)size), (ushort)(avail - 1));
        memory.WriteUInt16Release(available.Offset(2), avail);
    }

    /// <summary>Asks for an interrupt once the used index passes <paramref name="usedEvent"/> (used_event, EVENT_IDX), then fences: the next look at the used index comes after it.</summary>
    public static void SetUsedEvent(GuestMemory memory, GuestAddress ring, int size, ushort usedEvent)
    {
        memory.Write(Available(ring, size).Offset(4 + 2UL * (ulong)size), usedEvent);
        Interlocked.MemoryBarrier();
    }

    /// <summary>
    /// Whether the device wants a notification for the chains made available from <paramref name="oldAvail"/> to
    /// <paramref name="newAvail"/>: with EVENT_IDX, whether they pass its avail_event (vring_need_event), as Linux's
    /// virtqueue_kick_prepare decides; the fence orders the index store before the read, as its virtio_mb does. A device
    /// that is busy (or polling) leaves avail_event behind, and the driver does not notify it.
    /// </summary>
    public static bool NeedsNotification(GuestMemory memory, GuestAddress ring, int size, ushort oldAvail, ushort newAvail)
    {
        Interlocked.MemoryBarrier();
        ushort availEvent = memory.Read<ushort>(Used(ring, size).Offset(4 + 8UL * (ulong)size));
        return (ushort)(newAvail - availEvent - 1) < (ushort)(newAvail - oldAvail);
    }

    /// <summary>The device's used index.</summary>
    public static ushort UsedIndex(GuestMemory memory, GuestAddress ring, int size) => memory.ReadUInt16Acquire(Used(ring, size).Offset(2));
}

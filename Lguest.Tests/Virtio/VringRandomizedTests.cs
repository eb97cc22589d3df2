using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

/// <summary>
/// Random descriptor tables and ring states, as a hostile or broken driver could leave them: the
/// Vring must only ever answer with chains or <see cref="BadDriverException"/>, and must write
/// nowhere but its own used ring.
/// </summary>
public class VringRandomizedTests
{
    private const int MemorySize = 16 * 1024;
    private const int Iterations = 100_000;

    [Test]
    public void Random_rings_give_chains_or_BadDriverException_and_nothing_else()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MemorySize));
        Span<byte> ram = memory.GetSpan(GuestAddress.Zero, MemorySize);
        byte[] before = new byte[MemorySize];
        var chain = new DescriptorChain();
        int popped = 0, refused = 0;

        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            var random = new Random(iteration); // each case reproducible on its own
            int size = 1 << random.Next(0, 7);
            ulong features = (random.Next(2) == 0 ? VirtioFeatures.RingIndirectDescriptors : 0)
                | (random.Next(2) == 0 ? VirtioFeatures.RingEventIndex : 0);
            var addresses = new VringAddresses(
                RandomAddress(random, 16), RandomAddress(random, 2), RandomAddress(random, 4));
            ScribbleRings(random, ram, addresses, size);
            ram.CopyTo(before);

            try
            {
                var vring = new Vring(memory, "fuzz vq", size, addresses, features);
                for (int i = 0; i < size + 2 && vring.TryPop(chain); i++)
                {
                    popped++;
                    Assert.That(chain.Head, Is.LessThan(size));
                    foreach (GuestBuffer b in chain.Readable)
                        Assert.That(memory.IsValidRange(b.Address, b.Length), Is.True);
                    foreach (GuestBuffer b in chain.Writable)
                        Assert.That(memory.IsValidRange(b.Address, b.Length), Is.True);
                    vring.Push(chain.Head, (uint)random.Next());
                    _ = vring.NeedsInterrupt();
                }
                _ = vring.EnableNotifications();
                vring.DisableNotifications();
            }
            catch (BadDriverException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {iteration} threw {e.GetType().Name}: {e.Message}");
            }

            AssertOnlyUsedRingChanged(ram, before, addresses.UsedRing, size, iteration);
        }

        // Both outcomes must be common, or the generator is not exploring.
        Assert.That(popped, Is.GreaterThan(Iterations / 10), "chains popped");
        Assert.That(refused, Is.GreaterThan(Iterations / 10), "rings refused");
    }

    private static GuestAddress RandomAddress(Random random, int alignment)
    {
        // Mostly aligned and inside memory; sometimes misaligned or past the end.
        ulong address = (ulong)random.Next(0, MemorySize + 2048);
        if (random.Next(16) != 0)
            address &= ~(ulong)(alignment - 1);
        return new GuestAddress(address);
    }

    private static void ScribbleRings(Random random, Span<byte> ram, VringAddresses addresses, int size)
    {
        // Descriptors that point mostly at plausible places, with every flag combination (biased
        // towards short chains so that valid ones are common too).
        for (int i = 0; i < size; i++)
        {
            ulong entry = addresses.DescriptorTable.Value + (ulong)i * VringDescriptor.Size;
            if (entry + VringDescriptor.Size > MemorySize)
                break;
            ulong bufferAddress = random.Next(8) == 0 ? (ulong)random.NextInt64() : (ulong)random.Next(0, MemorySize + 256);
            uint length = random.Next(8) == 0 ? (uint)random.Next() : (uint)random.Next(0, 512);
            if (random.Next(4) == 0)
                length = (uint)(random.Next(0, size + 2) * VringDescriptor.Size); // indirect-table shaped
            ushort flags = (ushort)((random.Next(10) < 3 ? VringDescriptor.FlagNext : 0)
                | (random.Next(2) == 0 ? VringDescriptor.FlagWrite : 0)
                | (random.Next(10) == 0 ? VringDescriptor.FlagIndirect : 0));
            var d = new VringDescriptor(bufferAddress, length, flags, (ushort)random.Next(0, size + 1));
            System.Runtime.InteropServices.MemoryMarshal.Write(ram[(int)entry..], in d);
        }
        // The available ring: an index near the device's (zero), heads mostly in range.
        ulong avail = addresses.AvailableRing.Value;
        if (avail + 4 + 2UL * (ulong)size + 2 <= MemorySize)
        {
            Write16(ram, avail, (ushort)random.Next(0, 4));
            Write16(ram, avail + 2, (ushort)(random.Next(8) == 0 ? random.Next() : random.Next(0, size + 2)));
            for (int i = 0; i <= size; i++)
                Write16(ram, avail + 4 + 2UL * (ulong)i, (ushort)random.Next(0, size + 1));
        }
        ulong used = addresses.UsedRing.Value;
        if (used + 4 <= MemorySize)
        {
            Write16(ram, used, 0);
            Write16(ram, used + 2, 0);
        }
    }

    private static void Write16(Span<byte> ram, ulong at, ushort value) =>
        System.Runtime.InteropServices.MemoryMarshal.Write(ram[(int)at..], in value);

    private static void AssertOnlyUsedRingChanged(Span<byte> ram, byte[] before, GuestAddress used, int size, int iteration)
    {
        int start = (int)Math.Min(used.Value, MemorySize);
        int end = (int)Math.Min(used.Value + 4 + 8UL * (ulong)size + 2, MemorySize);
        if (!ram[..start].SequenceEqual(before.AsSpan(0, start)) || !ram[end..].SequenceEqual(before.AsSpan(end)))
            Assert.Fail($"iteration {iteration} wrote guest memory outside the used ring [0x{start:x}, 0x{end:x})");
    }
}

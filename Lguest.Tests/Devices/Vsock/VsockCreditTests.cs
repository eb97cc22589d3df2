using System.Security.Cryptography;
using Lguest.Devices;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>Credit-based flow control both ways (virtio 1.2 §5.10.6.3): never more in flight than the peer allows.</summary>
public class VsockCreditTests
{
    private const uint GuestPort = 1025;
    private const uint HostPort = 5000;
    private const uint Window = 256 * 1024;

    [Test]
    public void A_program_that_does_not_read_gets_the_guest_at_most_one_buffer_of_credit()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        byte[] chunk = new byte[64 * 1024];
        for (int i = 0; i < 4; i++)
            bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, (uint)chunk.Length), chunk);
        bed.Send(VsockTestBed.Header(VsockOp.CreditRequest, GuestPort, HostPort));
        GuestPacket update = bed.Expect(VsockOp.CreditUpdate);
        Assert.That(update.Header.ForwardCount, Is.Zero, "nothing consumed: the whole buffer is in use");
        // One byte more than the advertised buffer is a protocol violation: the connection is reset.
        bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, 1), [1]);
        Assert.That(bed.Expect(VsockOp.Reset).Header.DestinationPort, Is.EqualTo(GuestPort));
        Assert.That(() => stream.Read(new byte[16]), Throws.InstanceOf<IOException>());
    }

    [Test]
    public void What_the_program_consumes_comes_back_to_the_guest_as_credit()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        byte[] chunk = new byte[64 * 1024];
        for (int i = 0; i < 3; i++)
            bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, (uint)chunk.Length), chunk);
        byte[] sink = new byte[chunk.Length];
        int read = 0;
        while (read < 3 * chunk.Length)
            read += stream.Read(sink);
        // Guest's view: 192 KiB in flight since fwd_cnt 0, 64 KiB free, below half the buffer: an update comes
        // unasked as soon as the program took anything. It carries what was consumed when the device wrote it, which
        // may be the first 64 KiB only (the program reads on its own thread); then the guest sees half the buffer
        // free and no further update is due.
        GuestPacket update = bed.Expect(VsockOp.CreditUpdate);
        Assert.That(update.Header.ForwardCount, Is.InRange((uint)chunk.Length, (uint)(3 * chunk.Length)), "an update unasked");
        // Everything the program consumed is the guest's again.
        bed.Send(VsockTestBed.Header(VsockOp.CreditRequest, GuestPort, HostPort));
        Assert.That(bed.Expect(VsockOp.CreditUpdate).Header.ForwardCount, Is.EqualTo((uint)(3 * chunk.Length)));
    }

    [Test]
    public void The_device_sends_no_more_than_the_guests_buffer_and_the_programs_writes_then_wait()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        // The guest's socket has an 8 KiB buffer and reads nothing.
        bed.Send(VsockTestBed.Header(VsockOp.CreditUpdate, GuestPort, HostPort, bufferAllocation: 8192));
        byte[] data = RandomNumberGenerator.GetBytes(1 << 20);
        Task write = stream.WriteAsync(data).AsTask();
        uint received = 0;
        GuestPacket? packet;
        while ((packet = bed.TryReceive(300)) is not null)
        {
            if (packet.Op == VsockOp.ReadWrite)
                received += (uint)packet.Payload.Length;
            else
                Assert.That(packet.Op, Is.EqualTo(VsockOp.CreditRequest).Or.EqualTo(VsockOp.CreditUpdate));
        }
        Assert.That(received, Is.EqualTo(8192u), "exactly the guest's credit");
        Assert.That(write.IsCompleted, Is.False, "1 MiB does not fit the pipe's 256 KiB while the guest does not read");

        // The guest reads it all and says so: more flows.
        bed.Send(VsockTestBed.Header(VsockOp.CreditUpdate, GuestPort, HostPort, bufferAllocation: 8192, forwardCount: 8192));
        Assert.That(bed.Expect(VsockOp.ReadWrite).Payload, Is.EqualTo(data.AsSpan(8192, 4096).ToArray()));
    }

    [Test]
    public void A_guest_whose_fwd_cnt_runs_past_what_it_was_sent_gets_nothing_more()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.CreditUpdate, GuestPort, HostPort, bufferAllocation: 4096, forwardCount: 0x8000_0000));
        stream.Write(new byte[100]);
        GuestPacket? packet;
        while ((packet = bed.TryReceive(300)) is not null)
            Assert.That(packet.Op, Is.Not.EqualTo(VsockOp.ReadWrite), "credit is 0: buf_alloc less a wrapped in-flight count");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Eight_MiB_each_way_arrive_intact_through_the_programs_stream(bool guestInitiated)
    {
        using var bed = new VsockTestBed();
        VsockStream stream;
        GuestConnection guest;
        if (guestInitiated)
        {
            using VsockListener listener = bed.Host.Listen(HostPort);
            guest = new GuestConnection(bed, GuestPort, HostPort).Open();
            stream = listener.AcceptAsync().AsTask().Result;
        }
        else
        {
            Task<VsockStream> connect = bed.Host.ConnectAsync(52);
            GuestPacket request = bed.Expect(VsockOp.Request);
            guest = new GuestConnection(bed, 52, request.Header.SourcePort);
            guest.Send(VsockOp.Response);
            stream = connect.Result;
        }
        using (stream)
        {
            byte[] up = RandomNumberGenerator.GetBytes(8 << 20);
            byte[] down = RandomNumberGenerator.GetBytes(8 << 20);
            Task<byte[]> programReads = Task.Run(() =>
            {
                var all = new MemoryStream();
                stream.CopyTo(all);
                return all.ToArray();
            });
            guest.Write(up);
            guest.Shutdown(VsockShutdown.Send);
            Assert.That(SHA256.HashData(programReads.Result), Is.EqualTo(SHA256.HashData(up)), "guest to program");

            Task programWrites = Task.Run(() =>
            {
                stream.Write(down);
                stream.Output.Complete();
            });
            byte[] got = guest.ReadToEnd();
            programWrites.Wait();
            Assert.That(SHA256.HashData(got), Is.EqualTo(SHA256.HashData(down)), "program to guest");
            Assert.That(guest.LargestPayload, Is.LessThanOrEqualTo(VsockTestBed.RxPayload));
        }
    }
}

using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Lguest.Devices;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>Firecracker's hybrid vsock (its docs/vsock.md) on a Unix socket, with real sockets on the host side.</summary>
public class VsockUnixSocketTests
{
    private const uint GuestPort = 1025;

    [Test]
    public void The_socket_exists_while_the_host_runs_and_is_removed_after()
    {
        string path;
        using (var bed = new VsockTestBed(unixSocket: true))
        {
            path = bed.SocketPath!;
            Assert.That(File.Exists(path), Is.True);
        }
        Assert.That(File.Exists(path), Is.False);
    }

    [Test]
    public void A_host_program_connects_with_connect_and_reads_ok_with_its_port_then_has_the_stream()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket program = Connect(bed.SocketPath!);
        program.Send("CONNECT 52\nearly"u8);
        GuestPacket request = bed.Expect(VsockOp.Request);
        Assert.That(request.Header.DestinationPort, Is.EqualTo(52u));
        uint local = request.Header.SourcePort;
        var guest = new GuestConnection(bed, 52, local);
        guest.Send(VsockOp.Response);
        Assert.That(ReadLine(program), Is.EqualTo($"OK {local}"));
        Assert.That(Encoding.ASCII.GetString(guest.Read(5)), Is.EqualTo("early"), "bytes after the line belong to the stream");

        guest.Write("from the guest"u8);
        Assert.That(ReadExactly(program, 14), Is.EqualTo("from the guest"u8.ToArray()));
        program.Shutdown(SocketShutdown.Send);
        Assert.That(guest.ReadToEnd(), Is.Empty);
        Assert.That(guest.EndOfStream, Is.True, "the program's end of stream is the guest's SHUTDOWN(SEND)");
        guest.Write("still open the other way"u8);
        Assert.That(Encoding.ASCII.GetString(ReadExactly(program, 24)), Is.EqualTo("still open the other way"));
    }

    [Test]
    public void A_guest_refusal_closes_the_host_programs_socket_without_ok()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket program = Connect(bed.SocketPath!);
        program.Send("CONNECT 52\n"u8);
        uint local = bed.Expect(VsockOp.Request).Header.SourcePort;
        bed.Send(VsockTestBed.Header(VsockOp.Reset, 52, local));
        Assert.That(program.Receive(new byte[16]), Is.Zero);
    }

    [TestCase("HELLO 52\n")]
    [TestCase("CONNECT\n")]
    [TestCase("CONNECT -1\n")]
    [TestCase("CONNECT 4294967295\n")]
    [TestCase("CONNECT 12345678901\n")]
    [TestCase("CONNECT 52 \n")]
    [TestCase("CONNECT 0000000000000000000000000000000000000000052\n")]
    public void A_bad_connect_line_closes_the_host_programs_socket(string line)
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket program = Connect(bed.SocketPath!);
        program.Send(Encoding.ASCII.GetBytes(line));
        program.ReceiveTimeout = 5000;
        // Closed: end of file, or a reset when the line was cut short and bytes were left unread.
        try
        {
            Assert.That(program.Receive(new byte[16]), Is.Zero);
        }
        catch (SocketException e)
        {
            Assert.That(e.SocketErrorCode, Is.EqualTo(SocketError.ConnectionReset));
        }
        Assert.That(bed.TryReceive(100), Is.Null, "nothing reaches the guest");
    }

    [Test]
    public void A_host_program_connecting_while_no_driver_runs_is_closed()
    {
        using var bed = new VsockTestBed(unixSocket: true, activate: false);
        using Socket program = Connect(bed.SocketPath!);
        program.Send("CONNECT 52\n"u8);
        program.ReceiveTimeout = 5000;
        Assert.That(program.Receive(new byte[16]), Is.Zero);
    }

    [Test]
    public void A_guest_connection_to_port_p_reaches_the_program_listening_on_the_path_with_p()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket listener = Listen(bed.SocketPath + "_5000");
        var guest = new GuestConnection(bed, GuestPort, 5000).Open();
        using Socket program = listener.Accept();
        guest.Write("ping"u8);
        Assert.That(ReadExactly(program, 4), Is.EqualTo("ping"u8.ToArray()));
        program.Send("pong"u8);
        Assert.That(guest.Read(4), Is.EqualTo("pong"u8.ToArray()));
        program.Close();
        Assert.That(guest.ReadToEnd(), Is.Empty);
        Assert.That(guest.EndOfStream, Is.True);
    }

    [Test]
    public void A_guest_connection_to_a_port_without_a_socket_gets_a_reset()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        bed.Send(VsockTestBed.Header(VsockOp.Request, GuestPort, 5001));
        Assert.That(bed.Receive().Op, Is.EqualTo(VsockOp.Reset));
    }

    [Test]
    public void A_program_listening_in_this_process_takes_the_port_before_the_unix_socket()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket unixListener = Listen(bed.SocketPath + "_5000");
        using VsockListener listener = bed.Host.Listen(5000);
        new GuestConnection(bed, GuestPort, 5000).Open();
        Assert.That(listener.AcceptAsync().AsTask().Wait(5000), Is.True);
        Assert.That(unixListener.Poll(100_000, SelectMode.SelectRead), Is.False);
    }

    [Test]
    public void Sixteen_MiB_each_way_arrive_intact_through_the_unix_socket_while_the_program_reads_slowly()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket listener = Listen(bed.SocketPath + "_5000");
        var guest = new GuestConnection(bed, GuestPort, 5000).Open();
        using Socket program = listener.Accept();
        byte[] up = RandomNumberGenerator.GetBytes(16 << 20);
        byte[] down = RandomNumberGenerator.GetBytes(16 << 20);
        Task<byte[]> programReads = Task.Run(() =>
        {
            var all = new MemoryStream();
            byte[] buffer = new byte[3000];
            int n;
            while ((n = program.Receive(buffer)) > 0)
            {
                all.Write(buffer, 0, n);
                if (all.Length < 1 << 20)
                    Thread.Sleep(1); // slower than the guest at first: the device holds what the socket cannot take
            }
            return all.ToArray();
        });
        guest.Write(up);
        guest.Shutdown(VsockShutdown.Send);
        Assert.That(SHA256.HashData(programReads.Result), Is.EqualTo(SHA256.HashData(up)));

        Task programWrites = Task.Run(() =>
        {
            program.Send(down);
            program.Shutdown(SocketShutdown.Send);
        });
        Assert.That(SHA256.HashData(guest.ReadToEnd()), Is.EqualTo(SHA256.HashData(down)));
        programWrites.Wait();
    }

    [Test]
    public void An_echo_moves_8_MiB_while_the_program_writes_and_reads_its_socket_at_once()
    {
        // As vsock-peer's many: the host program writes and reads the same socket at once, the guest echoes
        // what it reads; both directions of one connection share the socket, its epoll entry and the credit.
        using var bed = new VsockTestBed(unixSocket: true);
        GuestConnection guest = null!;
        using Socket program = ConnectToGuest(bed, 5000, local => (guest = new GuestConnection(bed, 5000, local)).Send(VsockOp.Response));
        byte[] data = RandomNumberGenerator.GetBytes(8 << 20);
        Task writes = Task.Run(() =>
        {
            for (int offset = 0; offset < data.Length; offset += 65536)
                program.Send(data.AsSpan(offset, 65536));
        });
        Task<byte[]> reads = Task.Run(() => ReadExactly(program, data.Length));
        for (int echoed = 0; echoed < data.Length; echoed += 65536)
            guest.Write(guest.Read(65536));
        Assert.That(writes.Wait(30_000), Is.True, "the program's writes");
        Assert.That(reads.Wait(30_000), Is.True, "the program's reads");
        Assert.That(SHA256.HashData(reads.Result), Is.EqualTo(SHA256.HashData(data)));
    }

    [Test]
    public void A_guest_that_does_not_read_blocks_the_programs_writes_in_its_socket()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket listener = Listen(bed.SocketPath + "_5000");
        var guest = new GuestConnection(bed, GuestPort, 5000).Open();
        using Socket program = listener.Accept();
        program.Blocking = false;
        long written = 0;
        byte[] chunk = new byte[65536];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 2000)
        {
            try
            {
                written += program.Send(chunk);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                Thread.Sleep(50);
            }
        }
        long delivered = 0;
        while (bed.TryReceive(200) is { } packet)
            delivered += packet.Payload.Length;
        Assert.That(delivered, Is.EqualTo(VsockTestBed.GuestBufferAllocation), "the device read exactly the guest's credit");
        Assert.That(written, Is.LessThan(16L << 20), "the rest waits in the program's socket, which then blocks");
    }

    [Test]
    public void Resetting_the_device_closes_every_host_programs_socket()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket listener = Listen(bed.SocketPath + "_5000");
        new GuestConnection(bed, GuestPort, 5000).Open();
        using Socket accepted = listener.Accept();
        using Socket program = Connect(bed.SocketPath!);
        program.Send("CONNECT 52\n"u8);
        uint local = bed.Expect(VsockOp.Request).Header.SourcePort;
        new GuestConnection(bed, 52, local).Send(VsockOp.Response);
        Assert.That(ReadLine(program), Is.EqualTo($"OK {local}"));
        bed.Device.Reset();
        accepted.ReceiveTimeout = program.ReceiveTimeout = 5000;
        Assert.That(accepted.Receive(new byte[1]), Is.Zero);
        Assert.That(program.Receive(new byte[1]), Is.Zero);
    }

    [Test]
    public void A_socket_left_by_a_launcher_that_is_gone_is_replaced()
    {
        using var folder = new Support.TemporaryFolder();
        string path = Path.Combine(folder.Path, "v.sock");
        // A socket file nothing listens on, as a launcher killed with SIGKILL leaves it (.NET removes its own on dispose).
        Assert.That(Mknod(path, 0xc000 | 0x180, 0), Is.Zero, "mknod S_IFSOCK");
        using var host = new VsockHost(new VirtioVsockOptions { UnixSocketPath = path });
        Assert.That(() => host.Start(), Throws.Nothing);
    }

    [Test]
    public void A_socket_in_use_is_refused()
    {
        using var folder = new Support.TemporaryFolder();
        string path = Path.Combine(folder.Path, "v.sock");
        using Socket other = Listen(path);
        using var host = new VsockHost(new VirtioVsockOptions { UnixSocketPath = path });
        Assert.That(() => host.Start(), Throws.TypeOf<VsockException>().With.Message.Contains("in use"));
    }

    [Test]
    public void A_file_that_is_no_socket_is_refused_and_left_alone()
    {
        using var folder = new Support.TemporaryFolder();
        string path = folder.Write("v.sock", [1, 2, 3]);
        using var host = new VsockHost(new VirtioVsockOptions { UnixSocketPath = path });
        Assert.That(() => host.Start(), Throws.TypeOf<VsockException>().With.Message.Contains("not a socket"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    [Test]
    public void A_path_in_a_missing_folder_is_refused_with_one_line()
    {
        using var host = new VsockHost(new VirtioVsockOptions { UnixSocketPath = "/nonexistent-lguest-folder/v.sock" });
        Assert.That(() => host.Start(), Throws.TypeOf<VsockException>().With.Message.StartsWith("vsock: cannot listen on '/nonexistent-lguest-folder/v.sock'"));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mknod", SetLastError = true)]
    private static extern int Mknod(string path, uint mode, ulong device);

    internal static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 30_000 };
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary>
    /// A host program's connection to guest port <paramref name="port"/> through the bed's socket: its CONNECT line,
    /// the device's REQUEST, the guest's answer (<paramref name="respond"/>, given the host port), then OK.
    /// </summary>
    internal static Socket ConnectToGuest(VsockTestBed bed, uint port, Action<uint> respond)
    {
        Socket program = Connect(bed.SocketPath!);
        program.Send(Encoding.ASCII.GetBytes($"CONNECT {port}\n"));
        uint local = bed.Expect(VsockOp.Request).Header.SourcePort;
        respond(local);
        Assert.That(ReadLine(program), Is.EqualTo($"OK {local}"));
        return program;
    }

    internal static Socket Listen(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen(16);
        return socket;
    }

    internal static string ReadLine(Socket socket)
    {
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (socket.Receive(one) == 1 && one[0] != '\n')
            line.Append((char)one[0]);
        return line.ToString();
    }

    internal static byte[] ReadExactly(Socket socket, int count)
    {
        byte[] data = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = socket.Receive(data.AsSpan(read));
            if (n == 0)
                Assert.Fail($"end of stream after {read} of {count} bytes");
            read += n;
        }
        return data;
    }
}

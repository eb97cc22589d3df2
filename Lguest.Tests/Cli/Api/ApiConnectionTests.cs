using System.Net.Sockets;
using System.Text;

namespace Lguest.Tests.Cli.Api;

/// <summary>Clients that send garbage, or nothing, cannot hold the API up for others, and are cut off.</summary>
public class ApiConnectionTests
{
    private static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    [Test]
    public async Task Silent_and_garbage_clients_do_not_stall_another_and_are_closed()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        using Socket silent = Connect(api.SocketPath);
        using Socket garbage = Connect(api.SocketPath);
        using Socket slow = Connect(api.SocketPath);
        garbage.Send([0x00, 0xff, 0x13, 0x37, (byte)'\r', (byte)'\n', (byte)'\r', (byte)'\n']);
        slow.Send(Encoding.ASCII.GetBytes("PUT /boot-source HTTP/1.1\r\nHost: x\r\n")); // headers never end

        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await api.SendAsync(HttpMethod.Get, "/");
            Assert.That((int)response.StatusCode, Is.EqualTo(200), "another client is served meanwhile");
        }

        Assert.That(ReadToClose(garbage), Does.StartWith("HTTP/1.1 400"), "garbage gets Kestrel's 400 and the connection closes");
        // Kestrel's keep-alive timeout (10 s) closes the silent one, its header timeout (5 s after the first byte) the slow one.
        Assert.That(ReadToClose(silent), Is.Empty.Or.StartWith("HTTP/1.1 408"));
        Assert.That(ReadToClose(slow), Is.Empty.Or.StartWith("HTTP/1.1 408"));
    }

    // What the server sends until it closes the connection; fails after a minute (the server never closed it).
    private static string ReadToClose(Socket socket)
    {
        socket.ReceiveTimeout = 60_000;
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            int n = socket.Receive(buffer);
            if (n == 0)
                return received.ToString();
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }
}

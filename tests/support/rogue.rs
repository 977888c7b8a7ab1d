//! Servers on 127.0.0.1 that are not dbt Cloud, for what the client must survive at the
//! access URL: one that accepts connections and never answers, one that answers a fixed
//! page (HTML, a huge error), and one that streams an endless body.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// What the rogue server does with each request.
#[derive(Clone)]
pub enum Behaviour {
    /// Never accept: the kernel completes the handshake (backlog), nobody answers.
    Silent,
    /// Answer every request with this status, content type and body.
    Answer {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// `200 application/json`, chunked, `{"data": [` and then spaces, up to `max_bytes`.
    Endless { max_bytes: usize },
    /// Announce a `Content-Length` of `length` bytes, send a little, then hold the line.
    Announces { length: u64 },
}

pub struct Rogue {
    pub url: String,
    // Kept open for the server's lifetime (a silent server must not refuse connections).
    _listener: Option<TcpListener>,
}

impl Rogue {
    pub fn start(behaviour: Behaviour) -> Rogue {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        if let Behaviour::Silent = behaviour {
            return Rogue {
                url,
                _listener: Some(listener),
            };
        }
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let behaviour = behaviour.clone();
                std::thread::spawn(move || serve(stream, &behaviour));
            }
        });
        Rogue {
            url,
            _listener: None,
        }
    }
}

fn serve(mut stream: TcpStream, behaviour: &Behaviour) {
    // Read the request head (requests here have no body worth reading).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let _ = match behaviour {
        Behaviour::Silent => Ok(()),
        Behaviour::Answer {
            status,
            content_type,
            body,
        } => write!(
            stream,
            "HTTP/1.1 {status} Rogue\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        Behaviour::Endless { max_bytes } => endless(&mut stream, *max_bytes),
        Behaviour::Announces { length } => {
            let r = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{\"data\": ["
            );
            // Hold the connection until the client goes away.
            let mut sink = [0u8; 1024];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            r
        }
    };
}

fn endless(stream: &mut TcpStream, max_bytes: usize) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )?;
    let first = b"{\"data\": [";
    write!(stream, "{:x}\r\n", first.len())?;
    stream.write_all(first)?;
    stream.write_all(b"\r\n")?;
    let chunk = vec![b' '; 1 << 20];
    let mut sent = first.len();
    while sent < max_bytes {
        write!(stream, "{:x}\r\n", chunk.len())?;
        stream.write_all(&chunk)?;
        stream.write_all(b"\r\n")?;
        sent += chunk.len();
    }
    Ok(())
}

"""Real-ish legacy-encoded CSV text for measuring chardet (see measure.py).

Each language has a header and rows of people, places and notes, written the way business
exports look: short fields, names, a sentence here and there, numbers. The code pages are the
ones such files come in.
"""

# ruff: noqa: RUF001 (Cyrillic, Greek and Turkish test text is meant)

from __future__ import annotations

LANGUAGES: dict[str, tuple[tuple[str, ...], str, list[str]]] = {
    # language: (code pages, header, rows)
    "french": (
        ("cp1252", "latin-1", "cp850", "mac-roman"),
        "nom;ville;remarque;montant",
        [
            "François Lefèvre;Besançon;Réunion prévue à l'hôtel de ville;1250,50",
            "Hélène Dupré;Orléans;Déjà payé, reçu envoyé;980,00",
            "Jérôme Gaël;Saint-Étienne;Élève très appliqué, très sérieux;12,75",
            "Cécile Bréval;Nîmes;À rappeler après les fêtes;0,00",
            "Noël Mégane;Besançon;Livraison retardée à cause de la grève;455,10",
            "Amélie Côté;Genève;Facture n° 12 réglée en espèces;77,00",
            "Thérèse Brûlé;Périgueux;Commande égarée, à vérifier;310,40",
            "Raphaël Müller;Sète;Client fidèle depuis l'été dernier;88,90",
            "Zoé Leçon;Châlons;Rendez-vous annulé — météo;19,99",
            "Benoît Hébert;Évry;«Très satisfait» du service après-vente;640,00",
        ],
    ),
    "german": (
        ("cp1252", "latin-1", "cp850", "mac-roman"),
        "Name,Stadt,Bemerkung,Betrag",
        [
            "Jürgen Größer,München,Überweisung erhalten,1.250",
            "Bärbel Müller,Köln,Rückfrage wegen Lieferung,980",
            "Günther Schäfer,Düsseldorf,Straße gesperrt; später liefern,12",
            "Jörg Weiß,Nürnberg,Gebühren für Änderungen,0",
            "Käthe Hoß,Lübeck,Bestätigung folgt nächste Woche,455",
            "Uwe Fußmann,Görlitz,Größe passt nicht; Umtausch,77",
            "Sören Krämer,Saarbrücken,Zahlung überfällig,310",
            "Dörte Süß,Würzburg,Kündigung zum Monatsende,88",
            "Ölaf Bäcker,Fürth,Prüfung der Unterlagen läuft,19",
            "Hans Strauß,Gießen,Grüße an das ganze Team,640",
        ],
    ),
    "spanish": (
        ("cp1252", "latin-1", "cp850", "mac-roman"),
        "nombre,ciudad,nota,importe",
        [
            "José Muñoz,Córdoba,Reunión el próximo miércoles,1250",
            "María Peña,Cádiz,Pagó en efectivo; ¿factura?,980",
            "Íñigo Ibáñez,Logroño,Llamar por teléfono mañana,12",
            "Sofía Núñez,Málaga,Envío atrasado por la huelga,0",
            "Raúl Gómez,León,Cliente desde hace años,455",
            "Begoña Díaz,Jaén,Devolución aceptada ¡gracias!,77",
            "Ángel Martín,Ávila,Presupuesto en revisión,310",
            "Lucía Pérez,Almería,Descuento del 10 % aplicado,88",
        ],
    ),
    "russian": (
        ("cp1251", "koi8-r", "cp866", "mac-cyrillic"),
        "имя,город,примечание,сумма",
        [
            "Иван Петров,Москва,Оплата получена,1250",
            "Пётр Смирнов,Санкт-Петербург,Доставка задерживается,980",
            "Анна Кузнецова,Новосибирск,Перезвонить завтра утром,12",
            "Ольга Попова,Екатеринбург,Заказ отменён клиентом,0",
            "Сергей Васильев,Казань,Скидка для постоянного клиента,455",
            "Елена Соколова,Нижний Новгород,Счёт отправлен по почте,77",
            "Дмитрий Михайлов,Самара,Возврат товара оформлен,310",
            "Наталья Фёдорова,Омск,Встреча перенесена на пятницу,88",
            "Алексей Морозов,Ростов-на-Дону,Документы в обработке,19",
            "Юлия Волкова,Уфа,Спасибо за быструю работу,640",
        ],
    ),
    "japanese": (
        ("shift_jis", "euc_jp"),
        "名前,都市,備考,金額",
        [
            "田中太郎,東京,支払い済み,1250",
            "鈴木花子,大阪,配送が遅れています,980",
            "佐藤一郎,名古屋,明日の朝に電話してください,12",
            "高橋美咲,札幌,お客様によるキャンセル,0",
            "伊藤健太,福岡,常連のお客様への割引,455",
            "渡辺直子,京都,請求書を郵送しました,77",
            "山本大輔,神戸,返品の手続きが完了しました,310",
            "中村由美,横浜,会議は金曜日に変更,88",
        ],
    ),
    "polish": (
        ("cp1250", "iso8859-2", "cp852"),
        "imię,miasto,uwagi,kwota",
        [
            "Łukasz Wójcik,Łódź,Płatność otrzymana,1250",
            "Małgorzata Żak,Kraków,Dostawa opóźniona,980",
            "Paweł Kołodziej,Gdańsk,Zadzwonić jutro rano,12",
            "Agnieszka Wiśniewska,Poznań,Zamówienie anulowane przez klienta,0",
            "Grzegorz Dąbrowski,Wrocław,Rabat dla stałego klienta,455",
            "Żaneta Górska,Białystok,Faktura wysłana pocztą,77",
            "Krzysztof Zieliński,Częstochowa,Zwrot towaru przyjęty,310",
            "Jolanta Kaźmierczak,Rzeszów,Spotkanie przełożone na piątek,88",
        ],
    ),
    "greek": (
        ("cp1253", "iso8859-7"),
        "όνομα,πόλη,σημείωση,ποσό",
        [
            "Γιώργος Παπαδόπουλος,Αθήνα,Η πληρωμή ελήφθη,1250",
            "Μαρία Νικολάου,Θεσσαλονίκη,Η παράδοση καθυστερεί,980",
            "Νίκος Γεωργίου,Πάτρα,Τηλεφωνήστε αύριο το πρωί,12",
            "Ελένη Δημητρίου,Ηράκλειο,Η παραγγελία ακυρώθηκε,0",
            "Κώστας Ιωάννου,Λάρισα,Έκπτωση για τακτικό πελάτη,455",
            "Σοφία Κωνσταντίνου,Βόλος,Το τιμολόγιο στάλθηκε,77",
        ],
    ),
    "turkish": (
        ("cp1254",),
        "ad,şehir,not,tutar",
        [
            "Ahmet Yılmaz,İstanbul,Ödeme alındı,1250",
            "Ayşe Kaya,İzmir,Teslimat gecikiyor,980",
            "Mehmet Öztürk,Ankara,Yarın sabah arayın,12",
            "Zeynep Çelik,Bursa,Sipariş müşteri tarafından iptal edildi,0",
            "Mustafa Şahin,Eskişehir,Sadık müşteriye indirim,455",
            "Gül Doğan,Muğla,Fatura postayla gönderildi,77",
        ],
    ),
}
